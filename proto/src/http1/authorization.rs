//! `Authorization` values (`credentials` of RFC 9110 section 11.4) and single challenges of
//! `WWW-Authenticate` (same shape), split into scheme and credentials without copying.
//!
//! ```text
//! credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//! token68     = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//! auth-param  = token BWS "=" BWS ( token / quoted-string )
//! ```
//!
//! Bearer tokens run to kilobytes, so the token68 check is one pass over the bytes, and the
//! auth-param grammar is only tried when that pass fails.

use core::fmt;

use crate::http1::chars;

/// Why a value is not `credentials`. Answered with 401 and a challenge, like missing credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthorizationError {
    /// Nothing but whitespace.
    Empty,
    /// The scheme is not a token, or is not followed by SP.
    Scheme,
    /// What follows the scheme is neither a token68 nor a list of auth-params.
    Credentials,
}

impl fmt::Display for AuthorizationError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            AuthorizationError::Empty => "authorization value is empty",
            AuthorizationError::Scheme => "authorization scheme is not a token followed by a space",
            AuthorizationError::Credentials => {
                "authorization credentials are neither a token68 nor auth-params"
            }
        })
    }
}

impl std::error::Error for AuthorizationError {}

/// Which alternative of the grammar the credentials are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialsForm {
    /// The scheme alone.
    None,
    /// A token68, such as a bearer token or Basic's base64.
    Token68,
    /// A comma-separated list of `name=value`; see [`Credentials::params`].
    AuthParams,
}

/// A value split into scheme and credentials, both borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Credentials<'a> {
    /// The scheme as sent (compare with [`Credentials::is_scheme`]: schemes are
    /// case-insensitive).
    pub scheme: &'a str,
    /// The credentials after the scheme and its spaces, raw; empty for [`CredentialsForm::None`].
    pub token: &'a [u8],
    pub form: CredentialsForm,
}

impl<'a> Credentials<'a> {
    /// True when the scheme is `name`, compared ASCII case-insensitively.
    pub fn is_scheme(&self, name: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(name)
    }

    /// The auth-params of the credentials; yields nothing unless the form is
    /// [`CredentialsForm::AuthParams`].
    pub fn params(&self) -> AuthParams<'a> {
        match self.form {
            CredentialsForm::AuthParams => AuthParams::new(self.token),
            _ => AuthParams::new(b""),
        }
    }
}

/// Splits an `Authorization` value (or one `WWW-Authenticate` challenge) into scheme and
/// credentials. Whitespace around the value is ignored; between the scheme and the credentials
/// one or more SP are required (RFC 9110 does not allow HTAB there).
pub fn parse_credentials(value: &[u8]) -> Result<Credentials<'_>, AuthorizationError> {
    let value = chars::trim_whitespace(value);
    if value.is_empty() {
        return Err(AuthorizationError::Empty);
    }
    let scheme_len = value
        .iter()
        .position(|&byte| !chars::is_token(byte))
        .unwrap_or(value.len());
    let (scheme, rest) = value.split_at(scheme_len);
    // Token bytes are ASCII, so this cannot fail; the error keeps it panic-free regardless.
    let scheme = core::str::from_utf8(scheme).map_err(|_| AuthorizationError::Scheme)?;
    if scheme.is_empty() {
        return Err(AuthorizationError::Scheme);
    }
    if rest.is_empty() {
        return Ok(Credentials {
            scheme,
            token: b"",
            form: CredentialsForm::None,
        });
    }
    if rest[0] != b' ' {
        return Err(AuthorizationError::Scheme);
    }
    // The value is trimmed, so something other than SP follows the spaces.
    let spaces = rest
        .iter()
        .position(|&byte| byte != b' ')
        .unwrap_or(rest.len());
    let token = &rest[spaces..];
    let form = if is_token68(token) {
        CredentialsForm::Token68
    } else if AuthParams::new(token).all(|param| param.is_ok()) {
        CredentialsForm::AuthParams
    } else {
        return Err(AuthorizationError::Credentials);
    };
    Ok(Credentials {
        scheme,
        token,
        form,
    })
}

/// `token68`, in one pass.
fn is_token68(bytes: &[u8]) -> bool {
    let body_len = bytes
        .iter()
        .position(|&byte| !is_token68_byte(byte))
        .unwrap_or(bytes.len());
    body_len > 0 && bytes[body_len..].iter().all(|&byte| byte == b'=')
}

fn is_token68_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
}

/// One `auth-param`, borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthParam<'a> {
    /// The parameter name as sent (names are case-insensitive).
    pub name: &'a str,
    /// The value as sent: a token, or a quoted-string with its quotes and escapes.
    pub value: &'a [u8],
}

impl<'a> AuthParam<'a> {
    /// True when the name is `name`, compared ASCII case-insensitively.
    pub fn is_named(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// The value without quotes, when that needs no copy: a token, or a quoted-string without
    /// backslash escapes. `None` for a quoted-string with escapes.
    pub fn value_unquoted(&self) -> Option<&'a [u8]> {
        match self.value {
            [b'"', inner @ .., b'"'] if !inner.contains(&b'\\') => Some(inner),
            [b'"', ..] => None,
            token => Some(token),
        }
    }
}

/// The elements of `#auth-param`, in order. Empty list elements are skipped; after the first
/// error the iterator ends.
#[derive(Clone, Debug)]
pub struct AuthParams<'a> {
    remaining: &'a [u8],
}

impl<'a> AuthParams<'a> {
    /// The auth-params of `list`.
    pub fn new(list: &'a [u8]) -> AuthParams<'a> {
        AuthParams { remaining: list }
    }

    /// Parses the next element; `remaining` starts at something other than OWS or a comma.
    fn parse_param(&mut self) -> Result<AuthParam<'a>, AuthorizationError> {
        let bytes = self.remaining;
        let name_len = bytes
            .iter()
            .position(|&byte| !chars::is_token(byte))
            .unwrap_or(bytes.len());
        let name = core::str::from_utf8(&bytes[..name_len])
            .map_err(|_| AuthorizationError::Credentials)?;
        if name.is_empty() {
            return Err(AuthorizationError::Credentials);
        }
        let mut position = skip_whitespace(bytes, name_len);
        if bytes.get(position) != Some(&b'=') {
            return Err(AuthorizationError::Credentials);
        }
        position = skip_whitespace(bytes, position + 1);
        let value_len = match bytes.get(position) {
            Some(b'"') => chars::quoted_string_len(&bytes[position..])
                .ok_or(AuthorizationError::Credentials)?,
            _ => bytes[position..]
                .iter()
                .position(|&byte| !chars::is_token(byte))
                .unwrap_or(bytes.len() - position),
        };
        if value_len == 0 {
            return Err(AuthorizationError::Credentials);
        }
        let value = &bytes[position..position + value_len];
        position = skip_whitespace(bytes, position + value_len);
        match bytes.get(position) {
            None | Some(b',') => {}
            Some(_) => return Err(AuthorizationError::Credentials),
        }
        self.remaining = &bytes[position..];
        Ok(AuthParam { name, value })
    }
}

impl<'a> Iterator for AuthParams<'a> {
    type Item = Result<AuthParam<'a>, AuthorizationError>;

    fn next(&mut self) -> Option<Self::Item> {
        let start = self
            .remaining
            .iter()
            .position(|&byte| !matches!(byte, b' ' | b'\t' | b','))?;
        self.remaining = &self.remaining[start..];
        let param = self.parse_param();
        if param.is_err() {
            self.remaining = b"";
        }
        Some(param)
    }
}

/// The first position at or after `position` that is not SP or HTAB.
fn skip_whitespace(bytes: &[u8], position: usize) -> usize {
    let tail = bytes.get(position..).unwrap_or(b"");
    position
        + tail
            .iter()
            .position(|&byte| byte != b' ' && byte != b'\t')
            .unwrap_or(tail.len())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn parsed(value: &str) -> Result<(&str, &str, CredentialsForm), AuthorizationError> {
        parse_credentials(value.as_bytes()).map(|credentials| {
            (
                credentials.scheme,
                core::str::from_utf8(credentials.token).unwrap(),
                credentials.form,
            )
        })
    }

    #[test]
    fn token68_credentials() {
        let cases = [
            ("Basic dXNlcjpwYXNz", ("Basic", "dXNlcjpwYXNz")),
            (
                "Basic dXNlcjpwYXNzd29yZA==",
                ("Basic", "dXNlcjpwYXNzd29yZA=="),
            ),
            (
                "Bearer abc.def-ghi_jkl~mno+pq/rs",
                ("Bearer", "abc.def-ghi_jkl~mno+pq/rs"),
            ),
            ("bearer    spaced", ("bearer", "spaced")),
            (" Bearer x ", ("Bearer", "x")),
            ("Bearer a=", ("Bearer", "a=")),
        ];
        for (value, (scheme, token)) in cases {
            assert_eq!(
                parsed(value),
                Ok((scheme, token, CredentialsForm::Token68)),
                "{value:?}"
            );
        }
    }

    #[test]
    fn long_bearer_tokens() {
        let token = "eyJhbGciOiJSUzI1NiJ9.".repeat(200) + "sig==";
        let value = format!("Bearer {token}");
        assert_eq!(
            parsed(&value),
            Ok(("Bearer", token.as_str(), CredentialsForm::Token68))
        );
    }

    #[test]
    fn scheme_alone() {
        assert_eq!(
            parsed("Negotiate"),
            Ok(("Negotiate", "", CredentialsForm::None))
        );
        assert_eq!(
            parsed("Bearer   "),
            Ok(("Bearer", "", CredentialsForm::None))
        );
    }

    #[test]
    fn auth_param_credentials() {
        let cases = [
            r#"Digest username="Mufasa", realm="http-auth@example.org""#,
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
            "Custom a=b",
            "Custom a = b",
            "Custom a=b,c=d",
            "Custom a=b, ,c=d,",
            r#"Custom a="quoted \"escape\" and , comma""#,
            r#"Custom a="""#,
            "Custom ,",
        ];
        for value in cases {
            let credentials = parse_credentials(value.as_bytes()).unwrap();
            assert_eq!(credentials.form, CredentialsForm::AuthParams, "{value:?}");
        }
    }

    #[test]
    fn auth_params_are_split_respecting_quotes() {
        let value = br#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push", n = 3 , e="x\"y""#;
        let credentials = parse_credentials(value).unwrap();
        assert!(credentials.is_scheme("bearer"));
        let params: Vec<_> = credentials.params().map(Result::unwrap).collect();
        let names: Vec<_> = params.iter().map(|param| param.name).collect();
        assert_eq!(names, ["realm", "service", "scope", "n", "e"]);
        assert!(params[0].is_named("REALM"));
        assert_eq!(
            params[0].value_unquoted(),
            Some(&b"https://auth.example/token"[..])
        );
        assert_eq!(
            params[2].value_unquoted(),
            Some(&b"repository:a/b:pull,push"[..])
        );
        assert_eq!(params[3].value, b"3");
        assert_eq!(params[3].value_unquoted(), Some(&b"3"[..]));
        assert_eq!(params[4].value, br#""x\"y""#);
        assert_eq!(params[4].value_unquoted(), None);
    }

    #[test]
    fn token68_credentials_have_no_params() {
        let credentials = parse_credentials(b"Bearer abc").unwrap();
        assert_eq!(credentials.params().count(), 0);
    }

    #[test]
    fn errors() {
        let cases = [
            ("", AuthorizationError::Empty),
            (" \t ", AuthorizationError::Empty),
            ("=abc", AuthorizationError::Scheme),
            (" Bearer\tabc", AuthorizationError::Scheme),
            ("Bear/er abc", AuthorizationError::Scheme),
            ("Bearer,abc", AuthorizationError::Scheme),
            ("Bearer \tabc", AuthorizationError::Credentials),
            ("Bearer a b", AuthorizationError::Credentials),
            ("Bearer =abc", AuthorizationError::Credentials),
            ("Bearer abc=def=", AuthorizationError::Credentials),
            ("Bearer a==b", AuthorizationError::Credentials),
            ("Bearer ab\u{e9}", AuthorizationError::Credentials),
            ("Custom a= ,b=1", AuthorizationError::Credentials),
            ("Custom a=b c=d", AuthorizationError::Credentials),
            ("Custom a=\"unterminated", AuthorizationError::Credentials),
            ("Custom a=\"bad escape\\", AuthorizationError::Credentials),
            ("Custom a=\"tab\\\u{1}\"", AuthorizationError::Credentials),
            ("Custom a=\"nul\u{0}\"", AuthorizationError::Credentials),
            ("Custom a=b,=c", AuthorizationError::Credentials),
            ("Custom a=b;c=d", AuthorizationError::Credentials),
        ];
        for (value, error) in cases {
            assert_eq!(parsed(value), Err(error), "{value:?}");
        }
    }

    #[test]
    fn params_stop_after_an_error() {
        let mut params = AuthParams::new(b"a=1, b, c=3");
        assert_eq!(
            params.next(),
            Some(Ok(AuthParam {
                name: "a",
                value: b"1"
            }))
        );
        assert_eq!(params.next(), Some(Err(AuthorizationError::Credentials)));
        assert_eq!(params.next(), None);
    }

    #[test]
    fn errors_display() {
        assert!(AuthorizationError::Empty.to_string().contains("empty"));
        assert!(AuthorizationError::Scheme.to_string().contains("scheme"));
        assert!(
            AuthorizationError::Credentials
                .to_string()
                .contains("token68")
        );
    }

    proptest! {
        #[test]
        fn token68_round_trips(
            scheme in "[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,15}",
            spaces in 1usize..4,
            token in "[A-Za-z0-9._~+/-]{1,64}={0,3}",
        ) {
            let value = format!("{scheme}{}{token}", " ".repeat(spaces));
            let credentials = parse_credentials(value.as_bytes()).unwrap();
            prop_assert_eq!(credentials.scheme, scheme.as_str());
            prop_assert!(credentials.is_scheme(&scheme.to_ascii_uppercase()));
            prop_assert_eq!(credentials.token, token.as_bytes());
            prop_assert_eq!(credentials.form, CredentialsForm::Token68);
        }

        #[test]
        fn auth_params_round_trip(
            params in proptest::collection::vec(
                ("[a-z]{1,8}", prop_oneof!["[a-z0-9]{1,8}", "\"[a-z ,=\\\\\"]{0,8}\""]),
                1..5,
            ),
        ) {
            // Only keep quoted values whose escapes are well-formed.
            let params: Vec<(String, String)> = params
                .into_iter()
                .map(|(name, value)| {
                    if value.starts_with('"') {
                        let inner = &value[1..value.len() - 1];
                        let escaped = inner.replace('\\', "\\\\").replace('"', "\\\"");
                        (name, format!("\"{escaped}\""))
                    } else {
                        (name, value)
                    }
                })
                .collect();
            let list: Vec<String> = params.iter().map(|(name, value)| format!("{name}={value}")).collect();
            let value = format!("Scheme {}", list.join(", "));
            let credentials = parse_credentials(value.as_bytes()).unwrap();
            prop_assert_eq!(credentials.form, CredentialsForm::AuthParams);
            let found: Vec<(String, String)> = credentials
                .params()
                .map(|param| {
                    let param = param.unwrap();
                    (param.name.to_owned(), String::from_utf8(param.value.to_vec()).unwrap())
                })
                .collect();
            prop_assert_eq!(found, params);
        }

        #[test]
        fn arbitrary_values_give_token_schemes(value in proptest::collection::vec(any::<u8>(), 0..48)) {
            if let Ok(credentials) = parse_credentials(&value) {
                prop_assert!(chars::is_token_bytes(credentials.scheme.as_bytes()));
                prop_assert_eq!(credentials.token.is_empty(), credentials.form == CredentialsForm::None);
                for param in credentials.params() {
                    let param = param.unwrap();
                    prop_assert!(chars::is_token_bytes(param.name.as_bytes()));
                    prop_assert!(!param.value.is_empty());
                }
            }
        }
    }
}

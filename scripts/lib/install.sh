# shellcheck shell=bash
# Idempotent installers for what the tests need: Rust components, cargo subcommands, Debian
# packages and a Python virtual environment. Each checks first and installs only what is missing,
# so a second run installs nothing. Anything that cannot be installed here stops the script with
# a message naming the missing tool: a missing tool is a failure, never a skipped test.
#
# Sourced, not run; needs report.sh for `die`.

# Fails unless COMMAND is on PATH; HINT says how to get it.
require_command() {
    local command_name=$1 hint=$2
    command -v "$command_name" >/dev/null 2>&1 || die "'$command_name' is not installed. $hint"
}

# Rust components used by the checks, added to the active toolchain when absent.
ensure_rust_components() {
    local component missing=()
    cargo fmt --version >/dev/null 2>&1 || missing+=(rustfmt)
    cargo clippy --version >/dev/null 2>&1 || missing+=(clippy)
    if ((${#missing[@]} > 0)); then
        require_command rustup "Install the missing components (${missing[*]}) by hand."
        rustup component add "${missing[@]}"
    fi
    for component in fmt clippy; do
        cargo "$component" --version >/dev/null 2>&1 ||
            die "'cargo $component' still does not run after 'rustup component add'."
    done
}

# ensure_cargo_tool_exact CRATE VERSION SUBCOMMAND: installs CRATE at exactly VERSION unless
# `cargo SUBCOMMAND --version` already reports that version.
ensure_cargo_tool_exact() {
    local crate=$1 version=$2 subcommand=$3 reported
    reported=$(cargo "$subcommand" --version 2>/dev/null || true)
    if [[ "$reported" != *" $version"* ]]; then
        printf '%s: found "%s", installing %s\n' "$crate" "${reported:-nothing}" "$version"
        cargo install "$crate" --version "$version" --locked
    fi
    reported=$(cargo "$subcommand" --version 2>/dev/null || true)
    [[ "$reported" == *" $version"* ]] ||
        die "$crate $version is needed, but 'cargo $subcommand --version' says" \
            "\"${reported:-nothing}\"."
    printf '%s\n' "$reported"
}

# ensure_cargo_tool_present CRATE VERSION SUBCOMMAND: accepts any installed version of CRATE
# (for tools a machine image may ship, where a newer one is fine) and installs VERSION if absent.
ensure_cargo_tool_present() {
    local crate=$1 version=$2 subcommand=$3 reported
    if ! cargo "$subcommand" --version >/dev/null 2>&1; then
        printf '%s: not installed, installing %s %s\n' "$crate" "$crate" "$version"
        cargo install "$crate" --version "$version" --locked
    fi
    reported=$(cargo "$subcommand" --version 2>/dev/null) ||
        die "$crate is needed, but 'cargo $subcommand' does not run after installing it."
    printf '%s\n' "${reported%%$'\n'*}"
}

# Runs a command as root: directly when we are root (CI, containers), otherwise through sudo.
as_root() {
    if ((EUID == 0)); then
        "$@"
    else
        require_command sudo "Run scripts/test as root, or install: $*"
        sudo "$@"
    fi
}

# True when a Debian package entry (`package` or `package:command`) is satisfied: its command is
# on PATH when one is named (so a macOS developer can satisfy it from another package manager),
# otherwise dpkg lists the package as installed.
debian_entry_present() {
    local entry=$1 package command_name
    package=${entry%%:*}
    command_name=${entry#*:}
    if [[ "$command_name" != "$entry" ]]; then
        command -v "$command_name" >/dev/null 2>&1
    else
        command -v dpkg-query >/dev/null 2>&1 &&
            [[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$package" 2>/dev/null)" == "ii "* ]]
    fi
}

# ensure_debian_packages ENTRY...: installs the Debian packages whose entry is not satisfied.
# ENTRY is `package` or `package:command`, e.g. `skopeo:skopeo`, `docker-registry:docker-registry`.
ensure_debian_packages() {
    (($# > 0)) || return 0
    local entry missing=()
    for entry in "$@"; do
        debian_entry_present "$entry" || missing+=("${entry%%:*}")
    done
    if ((${#missing[@]} > 0)); then
        # Elsewhere (macOS, other distributions) we cannot install these, and the tests that
        # need them must not silently pass without them.
        command -v apt-get >/dev/null 2>&1 ||
            die "missing, and this is not a Debian system: ${missing[*]}." \
                "Install them (or their equivalents) so these are on PATH: $*."
        printf 'installing Debian packages: %s\n' "${missing[*]}"
        as_root apt-get update
        as_root env DEBIAN_FRONTEND=noninteractive \
            apt-get install --yes --no-install-recommends "${missing[@]}"
    fi
    for entry in "$@"; do
        debian_entry_present "$entry" ||
            die "Debian package '${entry%%:*}' is needed and still missing after apt-get install."
    done
    printf 'Debian packages present: %s\n' "$*"
}

# True when the requirements file names at least one package (not just comments).
requirements_list_anything() {
    local requirements_file=$1
    [[ -f "$requirements_file" ]] && grep -Eq '^[[:space:]]*[^#[:space:]]' "$requirements_file"
}

# ensure_python_venv VENV_DIR REQUIREMENTS_FILE: creates the virtual environment and installs the
# requirements into it, again only when the requirements file changed since the last install
# (a copy of the installed file is kept inside the venv to compare). Puts its bin/ first on PATH.
ensure_python_venv() {
    local venv_dir=$1 requirements_file=$2
    local installed_copy="$venv_dir/requirements.installed.txt"
    command -v python3 >/dev/null 2>&1 || ensure_debian_packages python3:python3
    if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
        # Debian splits the venv module out of python3.
        ensure_debian_packages python3-venv
    fi
    if [[ ! -x "$venv_dir/bin/python" ]]; then
        python3 -m venv "$venv_dir" ||
            die "'python3 -m venv' failed (Debian: apt-get install python3-venv)."
    fi
    if ! cmp -s "$requirements_file" "$installed_copy"; then
        "$venv_dir/bin/python" -m pip install --disable-pip-version-check --quiet \
            --requirement "$requirements_file"
        cp "$requirements_file" "$installed_copy"
    fi
    # Absolute: nextest starts each test binary in its own crate's folder (storage-engine/ for
    # that crate's tests), where a relative .venv/bin on PATH would name nothing.
    local venv_absolute
    venv_absolute=$(cd "$venv_dir" && pwd)
    export PATH="$venv_absolute/bin:$PATH"
    export VIRTUAL_ENV="$venv_absolute"
    printf 'Python venv %s: %s\n' "$venv_dir" "$("$venv_dir/bin/python" --version)"
}

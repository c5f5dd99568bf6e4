//! The chunked transfer coding (RFC 9112 section 7.1) as a resumable decoder.

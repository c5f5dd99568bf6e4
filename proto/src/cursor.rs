//! The only unsafe code of the parser: a forward-only cursor over a byte slice.

//! Criterion benchmark of the request-head parser against httparse on registry requests.

fn main() {}

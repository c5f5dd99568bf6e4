//! `zb`: zot's registry load generator, with zot's flags, tests and output, on the project's
//! monoio runtime and HTTP parser. See `zb --help` for where it differs from zot's zb.

mod blobs;
mod client;
mod report;
mod stats;
mod suite;

use clap::Parser;
use client::{Connection, Endpoint};
use stats::{TestSummary, WorkerStats, process_cpu_time};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use std::time::Instant;
use suite::{Kind, Shared, Sizes, TESTS, Worker};

/// The most source addresses taken from a CIDR, as zot's zb.
const SOURCE_ADDRESSES_MAX: usize = 1000;
/// The most concurrent workers.
const CONCURRENCY_MAX: usize = 10_000;
/// The longest `--run-identifier`: it is part of every repository name zb pushes to.
const RUN_IDENTIFIER_BYTES_MAX: usize = 16;

const ABOUT: &str = "zb: a registry benchmark, with the interface, tests and output of zot's zb";
const DIFFERENCES: &str = "\
Where this zb differs from zot's zb, and why:
  * Requests per second count the measured operations only. Setup (the images a pull or
    catalog test reads, pushed before the clock starts) and cleanup (the DELETEs of what the
    test pushed) are timed and reported separately; zot's zb counts them in the test's time.
  * Blob content is random by default and every pushed layer is different, so a registry that
    deduplicates does not get to skip work. --sparse gives zot's blobs: zeros after a random
    first 4 KiB, the same blob for every push of a size.
  * --sizes replaces the 1MB/10MB/100MB sizes (zot's are 1, 10 and 100 MiB); test names stay.
  * --run-identifier fixes the part of the repository names that is random per run, so that
    repeated runs push to the same repositories instead of creating new ones each time.
  * Everything is counted: every HTTP answer by status class, errors by message, bytes moved
    (MB/s), and zb's own CPU time, so one can see that zb is not the bottleneck.
  * Requests are written and parsed by the project's own HTTP code on monoio, over keep-alive
    connections, one per worker; -c workers are spread over --threads threads.
  * -v prints the version and exits; -o json prints a full report on stdout; -o ci-cd writes
    zot's ci-cd.json in the current folder; a progress line goes to stderr on a terminal only.";

#[derive(Debug, Parser)]
#[command(name = "zb", version, about = ABOUT, after_help = DIFFERENCES)]
struct Arguments {
    /// The registry, e.g. http://127.0.0.1:5000
    url: Option<String>,
    /// Number of multiple requests to make at a time
    #[arg(short = 'c', long, default_value_t = 1)]
    concurrency: usize,
    /// Number of requests to perform (rounded down to a multiple of the concurrency)
    #[arg(short = 'n', long, default_value_t = 1)]
    requests: usize,
    /// Use colon-separated BASIC auth creds (user:password)
    #[arg(short = 'A', long = "auth-creds", visible_alias = "auth")]
    auth: Option<String>,
    /// Use specified directory for test data (kept for zot compatibility: data stays in memory)
    #[arg(short = 'd', long = "working-dir", visible_alias = "workdir")]
    workdir: Option<String>,
    /// Use specified repository prefix on the remote registry for test data
    #[arg(short = 'r', long, default_value = "zb")]
    repo: String,
    /// Optional regex selecting the tests to run; all when absent
    #[arg(short = 't', long = "test-regex", visible_alias = "test")]
    test: Option<String>,
    /// Print the tests (those matching --test-regex, if given) and exit
    #[arg(short = 'l', long = "list-tests", visible_alias = "list")]
    list: bool,
    /// Leave what the tests pushed on the registry
    #[arg(long)]
    skip_cleanup: bool,
    /// Output format of test results: stdout (default), json, ci-cd
    #[arg(
        short = 'o',
        long = "output-format",
        visible_alias = "output",
        default_value = "stdout"
    )]
    output: String,
    /// Use specified CIDR to obtain source IPs to make requests from
    #[arg(short = 's', long, conflicts_with = "src_ips")]
    src_cidr: Option<String>,
    /// Comma-separated source IPs to make requests from
    #[arg(short = 'i', long)]
    src_ips: Option<String>,
    /// Show the version and exit
    #[arg(short = 'v', long = "show-version")]
    show_version: bool,
    /// zot's mostly-zero blobs, the same for every push, instead of unique random ones
    #[arg(long)]
    sparse: bool,
    /// The small, medium and large blob sizes in bytes, comma-separated
    #[arg(long, value_delimiter = ',')]
    sizes: Option<Vec<usize>>,
    /// Threads the workers run on; default: min(concurrency, cores)
    #[arg(long)]
    threads: Option<usize>,
    /// Names this run's repositories with this identifier (1 to 16 lowercase letters and
    /// digits) instead of a random one, so that repeated runs reuse the same repositories: a
    /// soak test keeps the registry's set of repositories bounded that way
    #[arg(long)]
    run_identifier: Option<String>,
}

/// Everything the threads of a phase share.
#[derive(Debug)]
struct Run {
    shared: Shared,
    address: SocketAddr,
    host: String,
    authorization: Option<String>,
    sources: Vec<IpAddr>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Setup,
    Measure,
    Cleanup,
}

fn main() -> ExitCode {
    let arguments = Arguments::parse();
    if arguments.show_version {
        println!("zb {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    match run(arguments) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("zb: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(arguments: Arguments) -> Result<ExitCode, String> {
    let filter = match &arguments.test {
        Some(pattern) => {
            Some(regex::Regex::new(pattern).map_err(|error| format!("bad --test-regex: {error}"))?)
        }
        None => None,
    };
    let selected: Vec<usize> = (0..TESTS.len())
        .filter(|&index| {
            filter
                .as_ref()
                .is_none_or(|filter| filter.is_match(TESTS[index].name))
        })
        .collect();
    if arguments.list {
        for &index in &selected {
            println!("{}", TESTS[index].name);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let url = arguments
        .url
        .clone()
        .ok_or("a registry URL is required (zb [flags] URL)")?;
    let (address, host) = parse_url(&url)?;
    if arguments.concurrency == 0 || arguments.concurrency > CONCURRENCY_MAX {
        return Err(format!("--concurrency must be 1 to {CONCURRENCY_MAX}"));
    }
    if arguments.requests < arguments.concurrency {
        return Err("requests cannot be less than concurrency".to_owned());
    }
    let output = arguments.output.as_str();
    if !["stdout", "json", "ci-cd"].contains(&output) {
        return Err(format!(
            "unknown output format {output}: stdout, json or ci-cd"
        ));
    }
    let requests = arguments.concurrency * (arguments.requests / arguments.concurrency);
    let sizes = match &arguments.sizes {
        Some(sizes) if sizes.len() == 3 => [sizes[0], sizes[1], sizes[2]],
        Some(_) => return Err("--sizes takes three sizes: small,medium,large".to_owned()),
        None => suite::DEFAULT_SIZES_BYTES,
    };
    if sizes.iter().any(|&size| size < blobs::BLOB_BYTES_MIN) {
        return Err(format!(
            "--sizes must be at least {} bytes each",
            blobs::BLOB_BYTES_MIN
        ));
    }
    let sources = source_addresses(&arguments)?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = arguments
        .threads
        .unwrap_or(cores)
        .clamp(1, arguments.concurrency);

    let text = output == "stdout";
    if text {
        println!("Registry URL:      {url}");
        println!("Concurrency Level: {}", arguments.concurrency);
        println!("Total requests:    {requests}");
        println!(
            "Working dir:       {}",
            arguments.workdir.as_deref().unwrap_or("(memory)")
        );
        println!();
        for (index, test) in TESTS.iter().enumerate() {
            if !selected.contains(&index) {
                println!("Skipping test {}", test.name);
            }
        }
        println!("Preparing test data ...");
    }
    let generate = |size| {
        blobs::BlobSource::generate(size, arguments.sparse)
            .map_err(|error| format!("random bytes: {error}"))
    };
    let (config_bytes, config_digest) = blobs::image_config();
    let run_identifier = match &arguments.run_identifier {
        Some(identifier) => {
            let valid = (1..=RUN_IDENTIFIER_BYTES_MAX).contains(&identifier.len())
                && identifier
                    .bytes()
                    .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit());
            if !valid {
                return Err(format!(
                    "--run-identifier must be 1 to {RUN_IDENTIFIER_BYTES_MAX} lowercase letters and digits"
                ));
            }
            identifier.clone()
        }
        None => {
            let mut run_bytes = [0u8; 4];
            getrandom::fill(&mut run_bytes).map_err(|error| format!("random bytes: {error}"))?;
            run_bytes.iter().map(|byte| format!("{byte:02x}")).collect()
        }
    };
    let run_context = Arc::new(Run {
        shared: Shared {
            sources: [
                generate(sizes[0])?,
                generate(sizes[1])?,
                generate(sizes[2])?,
            ],
            config_bytes,
            config_digest,
            repository_prefix: arguments.repo.trim_end_matches('/').to_owned(),
            run_identifier,
            progress: AtomicUsize::new(0),
        },
        address,
        host,
        authorization: arguments.auth.as_deref().map(client::basic_authorization),
        sources,
    });
    if text {
        println!("Starting tests ...");
    }
    let _ = std::io::stdout().flush();

    let mut summaries = Vec::new();
    let mut failures = false;
    for &test_index in &selected {
        let summary = run_test(
            &run_context,
            test_index,
            arguments.concurrency,
            requests,
            threads,
            arguments.skip_cleanup,
        );
        failures |= summary.stats.failed > 0;
        if text {
            print!("{}", report::text(&summary));
            let _ = std::io::stdout().flush();
        }
        summaries.push(summary);
    }

    match output {
        "json" => {
            let report = serde_json::json!({
                "zb": {
                    "version": env!("CARGO_PKG_VERSION"),
                    "url": url,
                    "concurrency": arguments.concurrency,
                    "requests": requests,
                    "threads": threads,
                    "repository_prefix": run_context.shared.repository_prefix,
                    "sparse": arguments.sparse,
                    "sizes_bytes": {"small": sizes[0], "medium": sizes[1], "large": sizes[2]},
                },
                "tests": summaries.iter().map(report::json_test).collect::<Vec<_>>(),
            });
            println!("{report}");
        }
        "ci-cd" => {
            let text = report::ci_cd(&summaries).to_string();
            std::fs::write("ci-cd.json", text)
                .map_err(|error| format!("writing ci-cd.json: {error}"))?;
        }
        _ => {}
    }
    Ok(if failures {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs one test: setup, the measured operations, cleanup, each phase timed on its own.
fn run_test(
    run_context: &Arc<Run>,
    test_index: usize,
    concurrency: usize,
    requests: usize,
    threads: usize,
    skip_cleanup: bool,
) -> TestSummary {
    let definition = TESTS[test_index];
    let per_worker = requests / concurrency;
    let mut seed_bytes = [0u8; 8];
    let _ = getrandom::fill(&mut seed_bytes);
    let seed = u64::from_le_bytes(seed_bytes);
    let mut workers: Vec<Worker> = (0..concurrency)
        .map(|index| {
            Worker::new(
                index,
                per_worker,
                seed.wrapping_add((index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            )
        })
        .collect();
    let needs_setup = matches!(
        definition.kind,
        Kind::Catalog | Kind::Pull | Kind::PullAndPush { .. }
    );

    let started = Instant::now();
    if needs_setup {
        workers = run_phase(run_context, test_index, Phase::Setup, workers, threads);
    }
    let setup_seconds = started.elapsed().as_secs_f64();

    run_context.shared.progress.store(0, Ordering::Relaxed);
    let finished = AtomicBool::new(false);
    let cpu_before = process_cpu_time();
    let started = Instant::now();
    let (workers_measured, seconds, client_cpu_seconds) = std::thread::scope(|scope| {
        if stderr_is_terminal() {
            scope.spawn(|| {
                show_progress(
                    definition.name,
                    &run_context.shared.progress,
                    requests,
                    &finished,
                )
            });
        }
        let workers = run_phase(run_context, test_index, Phase::Measure, workers, threads);
        let seconds = started.elapsed().as_secs_f64();
        let client_cpu_seconds = (process_cpu_time().saturating_sub(cpu_before)).as_secs_f64();
        finished.store(true, Ordering::Relaxed);
        (workers, seconds, client_cpu_seconds)
    });
    workers = workers_measured;

    let started = Instant::now();
    if !skip_cleanup {
        workers = run_phase(run_context, test_index, Phase::Cleanup, workers, threads);
    }
    let cleanup_seconds = started.elapsed().as_secs_f64();

    let mut stats = WorkerStats::default();
    let mut cleanup_errors = BTreeMap::new();
    for worker in workers {
        stats.merge(worker.stats);
        for message in worker.cleanup_errors {
            *cleanup_errors.entry(message).or_insert(0) += 1;
        }
    }
    assert_eq!(
        stats.completed + stats.failed,
        requests,
        "every operation is counted once"
    );
    TestSummary {
        name: definition.name,
        requests,
        stats,
        seconds,
        setup_seconds,
        cleanup_seconds,
        cleanup_errors,
        client_cpu_seconds,
        mixed_sizes: matches!(definition.sizes, Sizes::Mixed(_))
            && definition.kind != Kind::Catalog,
        mixed_kinds: matches!(definition.kind, Kind::PullAndPush { .. }),
        is_pull: matches!(definition.kind, Kind::Pull | Kind::PullAndPush { .. }),
    }
}

/// Runs one phase of every worker: the workers are spread over `threads` threads, each with
/// its own monoio runtime and one connection per worker.
fn run_phase(
    run_context: &Arc<Run>,
    test_index: usize,
    phase: Phase,
    workers: Vec<Worker>,
    threads: usize,
) -> Vec<Worker> {
    assert!(threads >= 1);
    let count = workers.len();
    let mut groups: Vec<Vec<Worker>> = (0..threads).map(|_| Vec::new()).collect();
    for worker in workers {
        let thread = worker.index % threads;
        groups[thread].push(worker);
    }
    let handles: Vec<_> = groups
        .into_iter()
        .map(|group| {
            let run_context = Arc::clone(run_context);
            std::thread::spawn(move || run_group(run_context, test_index, phase, group))
        })
        .collect();
    let mut workers: Vec<Worker> = handles
        .into_iter()
        .flat_map(|handle| match handle.join() {
            Ok(group) => group,
            Err(panic) => std::panic::resume_unwind(panic),
        })
        .collect();
    workers.sort_by_key(|worker| worker.index);
    assert_eq!(workers.len(), count, "every worker comes back");
    workers
}

fn run_group(
    run_context: Arc<Run>,
    test_index: usize,
    phase: Phase,
    group: Vec<Worker>,
) -> Vec<Worker> {
    let runtime = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
        .enable_timer()
        .build();
    let mut runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => panic!("zb: cannot build a monoio runtime: {error}"),
    };
    runtime.block_on(async move {
        let endpoint = Rc::new(Endpoint {
            address: run_context.address,
            host: run_context.host.clone(),
            authorization: run_context.authorization.clone(),
        });
        let tasks: Vec<_> = group
            .into_iter()
            .map(|mut worker| {
                let run_context = Arc::clone(&run_context);
                let source = (!run_context.sources.is_empty())
                    .then(|| run_context.sources[worker.index % run_context.sources.len()]);
                let mut connection = Connection::new(Rc::clone(&endpoint), source);
                monoio::spawn(async move {
                    let shared = &run_context.shared;
                    let definition = &TESTS[test_index];
                    match phase {
                        Phase::Setup => {
                            suite::setup(
                                &mut connection,
                                shared,
                                definition,
                                test_index,
                                &mut worker,
                            )
                            .await
                        }
                        Phase::Measure => {
                            suite::measure(
                                &mut connection,
                                shared,
                                definition,
                                test_index,
                                &mut worker,
                            )
                            .await
                        }
                        Phase::Cleanup => {
                            suite::cleanup(&mut connection, shared, &mut worker).await
                        }
                    }
                    worker
                })
            })
            .collect();
        let mut workers = Vec::with_capacity(tasks.len());
        for task in tasks {
            workers.push(task.await);
        }
        workers
    })
}

/// How often the progress line is redrawn.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(200);

fn stderr_is_terminal() -> bool {
    // SAFETY: isatty only reads the descriptor's state.
    unsafe { libc::isatty(libc::STDERR_FILENO) == 1 }
}

/// A progress line on stderr (a terminal only) until `finished`: a bar, done of total.
fn show_progress(name: &str, progress: &AtomicUsize, total: usize, finished: &AtomicBool) {
    const BAR_WIDTH: usize = 30;
    let mut stderr = std::io::stderr();
    // Bounded by the test's own end; the flag is set once the phase returns.
    while !finished.load(Ordering::Relaxed) {
        let done = progress.load(Ordering::Relaxed).min(total);
        let filled = BAR_WIDTH * done / total.max(1);
        let _ = write!(
            stderr,
            "\r[{}{}] {done}/{total} {name}",
            "#".repeat(filled),
            " ".repeat(BAR_WIDTH - filled)
        );
        let _ = stderr.flush();
        std::thread::sleep(PROGRESS_INTERVAL);
    }
    let _ = write!(stderr, "\r\x1b[2K");
    let _ = stderr.flush();
}

/// `http://host[:port][/]`: the address to connect to and the Host field value.
fn parse_url(url: &str) -> Result<(SocketAddr, String), String> {
    if url.starts_with("https://") {
        return Err("https is not supported: zb measures plain HTTP".to_owned());
    }
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("not an http:// URL: {url}"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err(format!("no host in {url}"));
    }
    let with_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, port)| port.parse::<u16>().is_ok())
    {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let address = with_port
        .to_socket_addrs()
        .map_err(|error| format!("cannot resolve {authority}: {error}"))?
        .next()
        .ok_or_else(|| format!("no address for {authority}"))?;
    Ok((address, authority.to_owned()))
}

/// The source addresses of `-i` or `-s`, as zot's zb takes them (a CIDR gives its host
/// addresses, network and broadcast left out, at most SOURCE_ADDRESSES_MAX).
fn source_addresses(arguments: &Arguments) -> Result<Vec<IpAddr>, String> {
    if let Some(list) = &arguments.src_ips {
        return list
            .split([',', ':'])
            .filter(|text| !text.is_empty())
            .map(|text| {
                text.trim()
                    .parse()
                    .map_err(|_| format!("bad source address {text}"))
            })
            .collect();
    }
    let Some(cidr) = &arguments.src_cidr else {
        return Ok(Vec::new());
    };
    cidr_hosts(cidr, SOURCE_ADDRESSES_MAX)
}

fn cidr_hosts(cidr: &str, count_max: usize) -> Result<Vec<IpAddr>, String> {
    let (address, prefix) = cidr
        .split_once('/')
        .ok_or_else(|| format!("bad CIDR {cidr}"))?;
    let address: std::net::Ipv4Addr = address
        .parse()
        .map_err(|_| format!("only IPv4 CIDRs: {cidr}"))?;
    let prefix: u32 = prefix
        .parse()
        .ok()
        .filter(|&prefix| prefix <= 30)
        .ok_or_else(|| format!("bad CIDR prefix in {cidr}"))?;
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    let network = u32::from(address) & mask;
    let broadcast = network | !mask;
    Ok((network + 1..broadcast)
        .take(count_max)
        .map(|host| IpAddr::V4(host.into()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_give_their_host_addresses() {
        let hosts = cidr_hosts("127.0.0.0/30", 10).unwrap();
        assert_eq!(
            hosts,
            [
                "127.0.0.1".parse::<IpAddr>().unwrap(),
                "127.0.0.2".parse().unwrap()
            ]
        );
        assert_eq!(cidr_hosts("127.0.0.0/8", 1000).unwrap().len(), 1000);
        assert!(cidr_hosts("127.0.0.0", 10).is_err());
    }

    #[test]
    fn urls_give_an_address_and_a_host() {
        let (address, host) = parse_url("http://127.0.0.1:5000/").unwrap();
        assert_eq!(address, "127.0.0.1:5000".parse().unwrap());
        assert_eq!(host, "127.0.0.1:5000");
        assert!(parse_url("https://127.0.0.1").is_err());
    }
}

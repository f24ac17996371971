//! `mailkeep-lmtp-load`: deliveries over LMTP to any server on this host,
//! for profiling one server by hand (`perf record -p PID`, per-process
//! CPU from `/proc`) with the messages of the `lmtp_vs_dovecot`
//! benchmark. Each connection delivers one message at a time, pipelining
//! MAIL, RCPT and DATA and waiting for each `250`, as that benchmark does.
//!
//! ```text
//! mailkeep-lmtp-load --rcpt alice --messages 2000
//! mailkeep-lmtp-load --rcpt alice --connections 4 --messages 500 --size 20000
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use mailkeep_bench::lmtp::{LmtpClient, delivery_message};
use mailkeep_bench::stats::Samples;

/// Delivers messages over LMTP and prints deliveries per second and the
/// latency percentiles of one delivery (from MAIL to its `250`).
#[derive(Parser)]
struct Args {
    /// The server's LMTP address.
    #[arg(long, default_value = "127.0.0.1:1124")]
    addr: SocketAddr,
    /// The recipient (as RCPT TO takes it).
    #[arg(long)]
    rcpt: String,
    /// Connections delivering at once.
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Messages per connection.
    #[arg(long, default_value_t = 1000)]
    messages: usize,
    /// Bytes per message (at least its header).
    #[arg(long, default_value_t = 5000)]
    size: usize,
    /// Longest wait for any one reply, in seconds.
    #[arg(long, default_value_t = 60)]
    timeout_secs: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let timeout = Duration::from_secs(args.timeout_secs);
    let clients: Result<Vec<LmtpClient>, _> = (0..args.connections.max(1))
        .map(|_| LmtpClient::connect(args.addr, timeout))
        .collect();
    let clients = match clients {
        Ok(clients) => clients,
        Err(e) => {
            eprintln!("connecting to {}: {e}", args.addr);
            return ExitCode::FAILURE;
        }
    };
    let start = Instant::now();
    let threads: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(t, mut client)| {
            let (rcpt, count, size) = (args.rcpt.clone(), args.messages, args.size);
            std::thread::spawn(move || {
                let mut took = Samples::new();
                for i in 0..count {
                    let message = delivery_message(t * count + i, &rcpt, size);
                    let began = Instant::now();
                    client.deliver(&rcpt, &message)?;
                    took.push(began.elapsed());
                }
                Ok::<Samples, mailkeep_bench::error::BenchError>(took)
            })
        })
        .collect();
    let mut all = Samples::new();
    for thread in threads {
        match thread.join() {
            Ok(Ok(took)) => all.extend(&took),
            Ok(Err(e)) => {
                eprintln!("a delivery failed: {e}");
                return ExitCode::FAILURE;
            }
            Err(_) => {
                eprintln!("a delivering thread panicked");
                return ExitCode::FAILURE;
            }
        }
    }
    let elapsed = start.elapsed();
    let ms = |p: Option<Duration>| p.map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0);
    println!(
        "{} deliveries over {} connections in {:.2} s: {:.0} a second; \
         one delivery p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms",
        all.len(),
        args.connections.max(1),
        elapsed.as_secs_f64(),
        all.len() as f64 / elapsed.as_secs_f64(),
        ms(all.p50()),
        ms(all.percentile(90.0)),
        ms(all.p99()),
    );
    ExitCode::SUCCESS
}

//! IDLE notification delay (issue 8 §4): one client appends to INBOX, N
//! others of the same account wait in IDLE on it; the delay runs from the
//! APPEND's tagged OK (at the appender) to each idler's `* n EXISTS`,
//! clocked in this one process. Two cases on mailkeep:
//!
//! (a) every session served by one storage process (the owner has one:
//!     checked on the admin socket);
//! (b) the appender served by a second storage process of the owner: a
//!     session asks for 24 MB of bodies and does not read them, so its
//!     FETCH keeps the first process busy (as in the e2e busy test); the
//!     appender logs in after the master reports that process busy, and
//!     gets a new one (two pids checked).
//!
//! Dovecot runs the same two cases (it serves every session in a process
//! of its own either way). Targets: p99 ≤ 50 ms in (a), ≤ 1 s in (b).

use std::time::Duration;

use mailkeep_bench::idle::{self, Delays, Idlers};
use mailkeep_bench::messages::text_message;
use mailkeep_bench::report::{Better, line, machine_idle, machine_load, ms};
use mailkeep_bench::servers::Account;
use mailkeep_bench::servers::mailkeep::Mailkeep;
use mailkeep_bench::{BenchError, client, setup};

const BIN: &str = env!("CARGO_BIN_EXE_mailkeep");
/// Clients in IDLE.
const IDLERS: usize = 20;
/// APPENDs per case.
const APPENDS: usize = 100;
/// Messages of 1 MB in the mailbox whose FETCH keeps a process busy.
const BULK: usize = 24;

/// A server's two cases.
struct Cases {
    one_process: Delays,
    two_processes: Delays,
    note: String,
}

fn main() {
    println!(
        "IDLE notification: machine load {} at start",
        machine_load()
    );
    println!("machine idle: {}", machine_idle());
    let dir = setup::workdir("idle-notification-").expect("work directory");
    let accounts = Account::numbered("watch", 1);
    let account = &accounts[0];
    let (mailkeep, dovecot) =
        setup::both_with_plain_accounts(BIN.as_ref(), dir.path(), "", &accounts, 100)
            .expect("starting mailkeep");
    let dovecot = dovecot
        .map_err(|e| println!("Dovecot baseline skipped: {e}"))
        .ok();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "workload: {IDLERS} clients in IDLE on INBOX, {APPENDS} APPENDs of a 4 KB message per \
         case, each after every idler heard of the one before; {{PLAIN}} passwords"
    );
    let line_text = "All work and no play makes a busy storage process.\r\n";
    let body = line_text.repeat(1024 * 1024 / line_text.len());
    let bulk: Vec<Vec<u8>> = (0..BULK)
        .map(|i| {
            format!("Subject: bulk {i}\r\nMessage-ID: <bulk{i}@bench>\r\n\r\n{body}").into_bytes()
        })
        .collect();

    let ours = runtime
        .block_on(cases(
            mailkeep.process().addr(),
            account,
            &bulk,
            Some(&mailkeep),
        ))
        .expect("mailkeep");
    let theirs = dovecot.as_ref().map(|d| {
        println!("baseline: Dovecot {}", d.version());
        runtime
            .block_on(cases(d.process().addr(), account, &bulk, None))
            .expect("dovecot")
    });
    println!();
    println!("mailkeep: {}", ours.note);
    if let Some(t) = &theirs {
        println!("dovecot: {}", t.note);
    }
    type Case = fn(&Cases) -> &Delays;
    let rows: [(&str, Case); 2] = [
        ("(a) one storage process", |c| &c.one_process),
        ("(b) across two storage processes", |c| &c.two_processes),
    ];
    for (case, pick) in rows {
        let o = pick(&ours);
        let t = theirs.as_ref().map(pick);
        for (p, at) in [("p50", 50.0), ("p99", 99.0)] {
            println!(
                "{}",
                line(
                    &format!("IDLE delay {case}, {p} (n={})", o.delays.len()),
                    "ms",
                    ms(o.delays.percentile(at).unwrap_or_default()),
                    t.and_then(|t| t.delays.percentile(at)).map(ms),
                    Better::Lower
                )
            );
        }
        println!(
            "IDLE delay {case}: mailkeep {} EXISTS before the tagged OK, {} missing; dovecot {}",
            o.before_ok,
            o.missing,
            t.map(|t| format!(
                "{} before the tagged OK, {} missing",
                t.before_ok, t.missing
            ))
            .unwrap_or_else(|| "skipped".into())
        );
    }
    let target = |d: &Delays, limit: Duration| {
        let p99 = d.delays.p99().unwrap_or(Duration::MAX);
        let met = p99 <= limit && d.missing == 0;
        format!(
            "p99 {:.1} ms ({})",
            ms(p99),
            if met { "met" } else { "NOT met" }
        )
    };
    println!(
        "IDLE delay targets: (a) p99 <= 50 ms: {}; (b) p99 <= 1 s: {}",
        target(&ours.one_process, Duration::from_millis(50)),
        target(&ours.two_processes, Duration::from_secs(1)),
    );
    println!(
        "IDLE notification: machine load {} at the end",
        machine_load()
    );
}

/// Both cases on the server at `addr`; `mailkeep` for its process checks.
async fn cases(
    addr: std::net::SocketAddr,
    account: &Account,
    bulk: &[Vec<u8>],
    mailkeep: Option<&Mailkeep>,
) -> Result<Cases, BenchError> {
    let timeout = Duration::from_secs(60);
    setup::fill_all(addr, std::slice::from_ref(account), "Bulk", bulk).await?;
    let message = text_message(7);
    let mut idlers = Idlers::start(addr, account, IDLERS).await?;
    let mut expected = idlers.exists;
    let mut appender = client::login(addr, timeout, &account.name, &account.password).await?;
    let mut note = String::new();
    // A warm-up append, not measured (the appender's first storage call).
    idle::measure(&mut appender, &mut idlers, 1, &mut expected, &message).await?;
    if let Some(m) = mailkeep {
        let procs = m.storage_processes_of(&account.name).await?;
        note.push_str(&format!(
            "(a) storage processes of {}: {:?}; ",
            account.name,
            procs.iter().map(|p| p.pid).collect::<Vec<_>>()
        ));
        if procs.len() != 1 {
            note.push_str("NOT one process; ");
        }
    }
    let one_process =
        idle::measure(&mut appender, &mut idlers, APPENDS, &mut expected, &message).await?;
    let _ = appender.logout().await;

    // (b): keep the first process busy, then log the appender in anew.
    let mut blocker = client::login(addr, timeout, &account.name, &account.password).await?;
    client::ok(&mut blocker, "SELECT Bulk").await?;
    blocker
        .send(b"big FETCH 1:* BODY.PEEK[]\r\n")
        .await
        .map_err(|e| BenchError::client("FETCH", e))?;
    if let Some(m) = mailkeep {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let procs = m.storage_processes_of(&account.name).await?;
            if procs.iter().any(|p| p.busy) {
                break;
            }
            if std::time::Instant::now() > deadline {
                return Err(BenchError::Timeout(
                    "the storage process never reported busy".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let mut appender = client::login(addr, timeout, &account.name, &account.password).await?;
    // A session asks the broker for its storage process at its first
    // storage call, not at LOGIN.
    client::ok(&mut appender, "STATUS INBOX (MESSAGES)").await?;
    if let Some(m) = mailkeep {
        let procs = m.storage_processes_of(&account.name).await?;
        note.push_str(&format!(
            "(b) storage processes of {}: {:?} (busy: {:?})",
            account.name,
            procs.iter().map(|p| p.pid).collect::<Vec<_>>(),
            procs.iter().map(|p| p.busy).collect::<Vec<_>>()
        ));
        if procs.len() != 2 {
            note.push_str(", NOT two processes");
        }
    } else {
        note = "every session in an imap process of its own".into();
    }
    idle::measure(&mut appender, &mut idlers, 1, &mut expected, &message).await?;
    let two_processes =
        idle::measure(&mut appender, &mut idlers, APPENDS, &mut expected, &message).await?;
    if let Some(m) = mailkeep {
        let procs = m.storage_processes_of(&account.name).await?;
        note.push_str(&format!(
            "; after the APPENDs: {:?}",
            procs.iter().map(|p| p.pid).collect::<Vec<_>>()
        ));
    }
    let _ = appender.logout().await;
    drop(blocker);
    let errors = idlers.finish().await;
    if !errors.is_empty() {
        note.push_str(&format!("; idler errors: {errors:?}"));
    }
    Ok(Cases {
        one_process,
        two_processes,
        note,
    })
}

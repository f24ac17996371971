//! Which parsed commands may start now (RFC 9051 §5.5): commands that do
//! not depend on each other run side by side; a command that changes what
//! others see waits for every earlier one, and every later one waits for
//! it. Commands start in the order they arrived; none overtakes another.
//!
//! Sequence numbers: while a command that uses them runs, no `EXPUNGE` may
//! be sent (it would renumber the messages under it), so the scheduler also
//! says when expunges may be reported.

/// How a command runs beside the others of its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Runs {
    /// Reads only what the session saw when it started (FETCH of FLAGS,
    /// SEARCH, STATUS, LIST): may run beside other such commands.
    Beside,
    /// Changes what other commands see (STORE, EXPUNGE, SELECT): waits for
    /// every earlier command; later ones wait for it.
    Alone,
    /// Like `Alone`, and takes the connection's input while it runs (the
    /// APPEND literal, the SASL exchange, IDLE's DONE, STARTTLS): nothing
    /// after it is even parsed until it ends.
    Exclusive,
}

/// Commands of one connection running side by side, at most. Each may
/// hold a storage call's window of buffered data (2 MiB for a FETCH of
/// bodies) while it waits for the output: without a bound, one client
/// pipelining thousands of FETCHes made the imap and storage processes
/// hold hundreds of megabytes. Later commands wait their turn, the queue
/// fills and the session stops reading. Two are enough for a FETCH to
/// pass a long SEARCH (RFC 9051 §5.5).
pub(crate) const MAX_BESIDE: usize = 4;

/// A running command as the scheduler sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Running {
    id: u64,
    runs: Runs,
    uses_sequence_numbers: bool,
}

/// The commands of one connection that are running now.
#[derive(Debug, Default)]
pub(crate) struct Scheduler {
    running: Vec<Running>,
    next_id: u64,
}

impl Scheduler {
    /// Whether a command that runs as `runs` may start now (it is first in
    /// the queue).
    pub(crate) fn may_start(&self, runs: Runs) -> bool {
        match runs {
            Runs::Beside => {
                self.running.len() < MAX_BESIDE
                    && self.running.iter().all(|r| r.runs == Runs::Beside)
            }
            Runs::Alone | Runs::Exclusive => self.running.is_empty(),
        }
    }

    /// Records that a command started; the id names it at [`Scheduler::end`].
    pub(crate) fn start(&mut self, runs: Runs, uses_sequence_numbers: bool) -> u64 {
        self.next_id += 1;
        self.running.push(Running {
            id: self.next_id,
            runs,
            uses_sequence_numbers,
        });
        self.next_id
    }

    /// Records that command `id` ended; says whether it used sequence
    /// numbers.
    pub(crate) fn end(&mut self, id: u64) -> bool {
        match self.running.iter().position(|r| r.id == id) {
            Some(i) => self.running.swap_remove(i).uses_sequence_numbers,
            None => false,
        }
    }

    /// Whether expunges may be reported to the client now: no running
    /// command uses sequence numbers.
    pub(crate) fn expunge_allowed(&self) -> bool {
        !self.running.iter().any(|r| r.uses_sequence_numbers)
    }

    /// Whether nothing runs.
    pub(crate) fn is_idle(&self) -> bool {
        self.running.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_commands_run_side_by_side() {
        let mut s = Scheduler::default();
        assert!(s.may_start(Runs::Beside));
        let search = s.start(Runs::Beside, false);
        assert!(
            s.may_start(Runs::Beside),
            "a FETCH may start beside a SEARCH"
        );
        let fetch = s.start(Runs::Beside, true);
        assert!(!s.may_start(Runs::Alone), "a STORE waits for both");
        assert!(s.end(fetch));
        assert!(!s.may_start(Runs::Alone));
        assert!(!s.end(search));
        assert!(s.may_start(Runs::Alone));
        assert!(s.is_idle());
    }

    #[test]
    fn side_by_side_is_bounded() {
        let mut s = Scheduler::default();
        let ids: Vec<u64> = (0..MAX_BESIDE)
            .map(|_| s.start(Runs::Beside, false))
            .collect();
        assert!(!s.may_start(Runs::Beside), "a fifth waits");
        s.end(ids[0]);
        assert!(s.may_start(Runs::Beside), "and starts when one ends");
    }

    #[test]
    fn a_changing_command_runs_alone() {
        let mut s = Scheduler::default();
        let store = s.start(Runs::Alone, true);
        assert!(!s.may_start(Runs::Beside));
        assert!(!s.may_start(Runs::Alone));
        s.end(store);
        let append = s.start(Runs::Exclusive, false);
        assert!(!s.may_start(Runs::Beside));
        s.end(append);
        assert!(s.may_start(Runs::Beside));
    }

    #[test]
    fn expunges_wait_for_commands_using_sequence_numbers() {
        let mut s = Scheduler::default();
        let by_uid = s.start(Runs::Beside, false);
        assert!(s.expunge_allowed());
        let by_seq = s.start(Runs::Beside, true);
        assert!(!s.expunge_allowed());
        s.end(by_seq);
        assert!(s.expunge_allowed());
        s.end(by_uid);
        assert!(!s.end(999), "an unknown id is ignored");
    }
}

//! Replays the committed corpus: every seed of every target, including the
//! inputs that once crashed a parser (named `crash-*`), which are the
//! regression tests of those fixes.

use std::fs;

use mailkeep_fuzz::{TARGETS, corpus_dir};

#[test]
fn every_target_passes_on_its_whole_corpus() {
    let mut failed = Vec::new();
    for target in TARGETS {
        let dir = corpus_dir(target.name);
        let mut files: Vec<_> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(
            files.len() >= 5,
            "{} has only {} seeds",
            target.name,
            files.len()
        );
        for file in files {
            let input = fs::read(&file).unwrap();
            if std::panic::catch_unwind(|| (target.run)(&input)).is_err() {
                failed.push(format!("{}: {}", target.name, file.display()));
            }
        }
    }
    assert!(failed.is_empty(), "failing seeds:\n{}", failed.join("\n"));
}

#[test]
fn every_target_has_a_corpus_folder_and_no_folder_lacks_a_target() {
    let root = corpus_dir("");
    for entry in fs::read_dir(&root).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            mailkeep_fuzz::target(&name).is_some(),
            "corpus/{name} has no target"
        );
    }
    for target in TARGETS {
        assert!(
            corpus_dir(target.name).is_dir(),
            "{} has no corpus",
            target.name
        );
    }
}

/// The storage and auth targets' seeds are encoded requests, made from
/// the RPCs' types (`mailkeep_fuzz::storage::seeds`,
/// `mailkeep_fuzz::auth::seeds`): the committed files must be what the
/// current types encode, so that a change of an RPC reaches the corpus.
/// `MAILKEEP_WRITE_SEEDS=1` writes them.
#[test]
fn the_rpc_seeds_are_the_encoded_requests() {
    let write = std::env::var_os("MAILKEEP_WRITE_SEEDS").is_some();
    for (target, seeds) in [
        ("storage_request", mailkeep_fuzz::storage::seeds()),
        ("auth_request", mailkeep_fuzz::auth::seeds()),
    ] {
        let dir = corpus_dir(target);
        for (name, bytes) in seeds {
            let file = dir.join(name);
            if write {
                fs::create_dir_all(&dir).unwrap();
                fs::write(&file, &bytes).unwrap();
            }
            let committed = fs::read(&file).unwrap_or_else(|e| {
                panic!("{}: {e} (MAILKEEP_WRITE_SEEDS=1 writes it)", file.display())
            });
            assert!(
                committed == bytes,
                "{} differs from what the RPC's types encode (MAILKEEP_WRITE_SEEDS=1 rewrites it)",
                file.display()
            );
        }
    }
}

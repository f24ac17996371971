use super::*;

#[test]
fn defaults_need_no_file() {
    let c = Config::load(None).expect("defaults load");
    assert!(c.data_dir().is_absolute());
    assert!(c.data_dir().ends_with("mailkeep-data"));
    assert_eq!(c.imap.listen, vec!["127.0.0.1:1143".to_string()]);
    assert_eq!(c.users_file(), c.data_dir().join("users"));
    assert_eq!(c.key_file(), c.data_dir().join("keys/cluster.key"));
    assert_eq!(c.privileges.unprivileged_user, "nobody");
}

#[test]
fn file_overrides_and_relative_paths_follow_data_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        "[server]\ndata_dir = \"/srv/mk\"\n[imap]\nlisten = [\"127.0.0.2:143\"]\n[auth]\nusers_file = \"etc/users\"\n",
    )
    .expect("write");
    let c = Config::load(Some(&path)).expect("load");
    assert_eq!(c.imap.listen, vec!["127.0.0.2:143".to_string()]);
    assert_eq!(
        c.users_file(),
        std::path::PathBuf::from("/srv/mk/etc/users")
    );
    assert_eq!(c.home_base(), std::path::PathBuf::from("/srv/mk/home"));
}

#[test]
fn unknown_key_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "[imap]\nlisten_on = [\"x\"]\n").expect("write");
    let err = Config::load(Some(&path))
        .expect_err("must fail")
        .to_string();
    assert!(err.contains("listen_on"), "{err}");
}

#[test]
fn nonsense_values_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "[privileges]\nmail_uid = 0\n").expect("write");
    assert!(Config::load(Some(&path)).is_err());
    std::fs::write(&path, "[imap]\nprocesses = 0\n").expect("write");
    assert!(Config::load(Some(&path)).is_err());
}

#[test]
fn example_file_parses() {
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../config/mailkeep.example.toml"
    );
    let c = Config::load(Some(std::path::Path::new(example))).expect("example parses");
    let d = Config::load(None).expect("defaults");
    // The example documents the defaults: loading it changes nothing.
    assert_eq!(c.imap.listen, d.imap.listen);
    assert_eq!(c.imap.max_literal_size, d.imap.max_literal_size);
    assert_eq!(c.privileges.mail_uid, d.privileges.mail_uid);
    assert_eq!(c.auth.ticket_lifetime_secs, d.auth.ticket_lifetime_secs);
    assert_eq!(c.users_file(), d.users_file());
    assert_eq!(
        c.storage.special_use.enabled(),
        d.storage.special_use.enabled()
    );
    assert_eq!(
        c.storage.metadata_max_value_size,
        d.storage.metadata_max_value_size
    );
    assert_eq!(
        c.storage.metadata_max_entries,
        d.storage.metadata_max_entries
    );
}

#[test]
fn special_use_folders_default_to_the_four_and_each_can_be_renamed_or_turned_off() {
    let d = Config::load(None).expect("defaults");
    assert_eq!(
        d.storage.special_use.enabled(),
        [
            ("\\Drafts", "Drafts".to_string()),
            ("\\Sent", "Sent".to_string()),
            ("\\Trash", "Trash".to_string()),
            ("\\Junk", "Junk".to_string()),
        ]
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        "[storage.special_use.sent]\nname = \"Sent Messages\"\n\
         [storage.special_use.junk]\nenable = false\n",
    )
    .expect("write");
    let c = Config::load(Some(&path)).expect("load");
    let names: Vec<String> = c
        .storage
        .special_use
        .enabled()
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert_eq!(names, ["Drafts", "Sent Messages", "Trash"]);
    std::fs::write(&path, "[storage.special_use.sent]\nname = \"Trash\"\n").expect("write");
    let err = Config::load(Some(&path)).expect_err("two uses of one name");
    assert!(err.to_string().contains("Trash"), "{err}");
}

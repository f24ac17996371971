//! Master users, Dovecot's convention: accounts of the users file that may
//! log in as any other account with their own password, for support and
//! migration tools (imapsync). A login names both as `user*master` (the
//! separator is `auth.master_user_separator`), or with SASL PLAIN or SCRAM
//! as authorization identity `user` and authentication identity `master`
//! (RFC 4616 proxy authorization, SCRAM's `a=`). The session, its ticket
//! and its mail are the user's; the log names both.
//!
//! With no master users configured the feature is off: `alice*admin` is
//! an ordinary (unknown) name, and an authzid other than the authcid is
//! refused as a wrong password would be.

use crate::sasl::Credentials;

/// Which accounts may act as others, and how a login name joins the two.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MasterUsers {
    names: Vec<String>,
    separator: String,
}

impl MasterUsers {
    /// The accounts `names` (as the users file spells them), named in a
    /// login after `separator` (empty: only PLAIN's authzid can name a
    /// user to act as).
    pub(crate) fn new(names: Vec<String>, separator: String) -> MasterUsers {
        MasterUsers { names, separator }
    }

    /// Whether the account called `name` (its canonical name in the users
    /// file) is a master user.
    pub(crate) fn is_master(&self, name: &str) -> bool {
        self.names.iter().any(|master| master == name)
    }

    /// `credentials` with a login name `user*master` taken apart into the
    /// user to act as (authzid) and the master whose password it is
    /// (authcid). Anything else is returned unchanged: with the feature
    /// off, when PLAIN already named an authzid, or when either side of
    /// the separator is empty. The last separator splits, so a user name
    /// may contain it.
    pub(crate) fn resolve(&self, credentials: Credentials) -> Credentials {
        if self.names.is_empty() || self.separator.is_empty() || credentials.authzid.is_some() {
            return credentials;
        }
        match credentials.authcid.rsplit_once(self.separator.as_str()) {
            Some((user, master)) if !user.is_empty() && !master.is_empty() => Credentials {
                authzid: Some(user.to_owned()),
                authcid: master.to_owned(),
                password: credentials.password,
            },
            _ => credentials,
        }
    }

    /// Who a login without a password in hand is for (SCRAM): the user
    /// name of its first message, `user*master` taken apart as
    /// [`MasterUsers::resolve`] does, and the authorization identity it
    /// named, if any.
    pub(crate) fn who(&self, username: &str, authzid: Option<&str>) -> Who {
        Who::of(&self.resolve(Credentials {
            authzid: authzid.map(str::to_owned),
            authcid: username.to_owned(),
            password: Vec::new(),
        }))
    }
}

/// Who a login is for: the user whose session it opens and, for a master
/// login, the master whose password it carries (the account penalised for
/// its failures and named in its log lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Who {
    /// The user the session is for, as named by the client.
    pub(crate) user: String,
    /// The master user acting, for a master login.
    pub(crate) master: Option<String>,
}

impl Who {
    /// The user and master that (resolved) `credentials` name.
    pub(crate) fn of(credentials: &Credentials) -> Who {
        match &credentials.authzid {
            Some(user) => Who {
                user: user.clone(),
                master: Some(credentials.authcid.clone()),
            },
            None => Who {
                user: credentials.authcid.clone(),
                master: None,
            },
        }
    }

    /// The account whose password the login carries: the master's, or the
    /// user's own. Failures count against it.
    pub(crate) fn account(&self) -> &str {
        self.master.as_deref().unwrap_or(&self.user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(authzid: Option<&str>, authcid: &str) -> Credentials {
        Credentials {
            authzid: authzid.map(str::to_owned),
            authcid: authcid.to_owned(),
            password: b"pw".to_vec(),
        }
    }

    #[test]
    fn a_separated_name_becomes_user_and_master() {
        let masters = MasterUsers::new(vec!["admin".into()], "*".into());
        assert_eq!(
            masters.resolve(creds(None, "alice*admin")),
            creds(Some("alice"), "admin")
        );
        // The last separator splits.
        assert_eq!(
            masters.resolve(creds(None, "a*b*admin")),
            creds(Some("a*b"), "admin")
        );
        // Split whether or not the master is listed: the passdb refuses.
        assert_eq!(
            masters.resolve(creds(None, "alice*bob")),
            creds(Some("alice"), "bob")
        );
        for unchanged in ["alice", "*admin", "alice*", "*"] {
            assert_eq!(
                masters.resolve(creds(None, unchanged)),
                creds(None, unchanged)
            );
        }
        // PLAIN named the user already: the name is taken as it is.
        assert_eq!(
            masters.resolve(creds(Some("alice"), "bob*admin")),
            creds(Some("alice"), "bob*admin")
        );
    }

    #[test]
    fn with_no_master_users_nothing_is_split() {
        let off = MasterUsers::new(Vec::new(), "*".into());
        assert_eq!(
            off.resolve(creds(None, "alice*admin")),
            creds(None, "alice*admin")
        );
        let no_separator = MasterUsers::new(vec!["admin".into()], String::new());
        assert_eq!(
            no_separator.resolve(creds(None, "alice*admin")),
            creds(None, "alice*admin")
        );
    }

    #[test]
    fn who_names_the_user_and_the_penalised_account() {
        let who = Who::of(&creds(Some("alice"), "admin"));
        assert_eq!(who.user, "alice");
        assert_eq!(who.master.as_deref(), Some("admin"));
        assert_eq!(who.account(), "admin");
        let own = Who::of(&creds(None, "alice"));
        assert_eq!(
            own,
            Who {
                user: "alice".into(),
                master: None
            }
        );
        assert_eq!(own.account(), "alice");
    }
}

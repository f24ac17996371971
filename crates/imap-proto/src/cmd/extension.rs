//! Commands plugins add (GETQUOTA, SETQUOTA, ... for the quota plugin):
//! the parser knows only their names (given at run time) and reads their
//! arguments in a generic form, `astring`, `NIL` or a parenthesised list,
//! so the plugin that runs the command checks them against its grammar.
//! Literals are framed (and limited) like every other command's.

use super::CommandBody;
use crate::grammar::{Cursor, PResult, bad};

/// Most nested lists in one plugin command's arguments.
const MAX_DEPTH: usize = 8;

/// A plugin's command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// The command name, upper case.
    pub name: String,
    /// Its arguments in order.
    pub args: Vec<ExtensionArg>,
}

/// One argument of a plugin's command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtensionArg {
    /// An atom, quoted string or literal, as bytes.
    String(Vec<u8>),
    /// `NIL`.
    Nil,
    /// A parenthesised list.
    List(Vec<ExtensionArg>),
}

impl ExtensionArg {
    /// The argument as text, if it is a string of UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            ExtensionArg::String(bytes) => std::str::from_utf8(bytes).ok(),
            _ => None,
        }
    }
}

/// The command name in a framed command (after the tag).
pub(crate) fn name_of(buf: &[u8]) -> PResult<String> {
    let mut c = Cursor::new(buf);
    c.tag()?;
    c.sp("command name")?;
    Ok(String::from_utf8_lossy(c.atom("command name")?).to_ascii_uppercase())
}

/// The arguments after the command name, to the end of the line.
pub(crate) fn parse(name: String, c: &mut Cursor<'_>) -> PResult<CommandBody> {
    let mut args = Vec::new();
    while !c.at_eol() {
        c.sp("argument")?;
        args.push(value(c, 0)?);
    }
    c.eol()?;
    Ok(CommandBody::Extension(Extension { name, args }))
}

fn value(c: &mut Cursor<'_>, depth: usize) -> PResult<ExtensionArg> {
    if c.peek() == Some(b'(') {
        if depth >= MAX_DEPTH {
            return bad("Lists nested too deep");
        }
        let items = c.paren_list("argument", true, |c| value(c, depth + 1))?;
        return Ok(ExtensionArg::List(items));
    }
    if c.eat_word("NIL") {
        return Ok(ExtensionArg::Nil);
    }
    c.astring("argument").map(ExtensionArg::String)
}

#[cfg(test)]
mod tests {
    use super::{Extension, ExtensionArg};
    use crate::{CommandBody, Limits, Outcome, Parser};

    fn parse(line: &[u8], names: &[&str]) -> Outcome {
        let mut parser = Parser::new(Limits::default());
        parser.set_extensions(names.iter().map(|n| n.to_string()).collect());
        parser.next(line)
    }

    #[test]
    fn a_named_extension_parses_into_generic_arguments() {
        let Outcome::Command { command, .. } = parse(
            b"a1 setquota \"\" (STORAGE 512 message NIL)\r\n",
            &["SETQUOTA"],
        ) else {
            panic!("not a command");
        };
        let s = |t: &str| ExtensionArg::String(t.as_bytes().to_vec());
        assert_eq!(
            command.body,
            CommandBody::Extension(Extension {
                name: "SETQUOTA".into(),
                args: vec![
                    s(""),
                    ExtensionArg::List(vec![
                        s("STORAGE"),
                        s("512"),
                        s("message"),
                        ExtensionArg::Nil
                    ]),
                ],
            })
        );
    }

    #[test]
    fn an_unnamed_command_stays_bad_and_bad_arguments_are_bad() {
        assert!(matches!(
            parse(b"a1 GETQUOTA \"\"\r\n", &[]),
            Outcome::Error { .. }
        ));
        assert!(matches!(
            parse(b"a1 GETQUOTA (unclosed\r\n", &["GETQUOTA"]),
            Outcome::Error { .. }
        ));
        let deep = format!("a1 GETQUOTA {}{}\r\n", "(".repeat(20), ")".repeat(20));
        assert!(matches!(
            parse(deep.as_bytes(), &["GETQUOTA"]),
            Outcome::Error { .. }
        ));
    }
}

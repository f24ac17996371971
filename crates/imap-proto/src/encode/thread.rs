//! `* THREAD (...)...` (RFC 5256 §4): thread trees in the nested
//! parenthesised form.

/// A node of a thread tree: a message (`None` for a missing parent that
/// only groups its children) and its replies in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadNode {
    /// The message number or UID; `None` for a dummy.
    pub id: Option<u32>,
    /// The replies.
    pub children: Vec<ThreadNode>,
}

/// One step of writing a thread without recursion (reply chains and
/// nesting come from message headers, so their depth is the sender's to
/// choose).
enum Step<'a> {
    /// `(` members `)`.
    List(&'a ThreadNode),
    /// The members of a node, after a space when `space`.
    Members(&'a ThreadNode, bool),
    /// `)`.
    Close,
}

/// Appends `* THREAD (2)(3 6 (4 23)(44 7 96))\r\n` for the given roots.
/// A chain of single replies is written flat; a node with several replies
/// is followed by each reply's thread in parentheses.
pub fn thread_response(out: &mut Vec<u8>, threads: &[ThreadNode]) {
    out.extend_from_slice(b"* THREAD");
    if !threads.is_empty() {
        out.push(b' ');
    }
    let mut stack: Vec<Step<'_>> = threads.iter().rev().map(Step::List).collect();
    while let Some(step) = stack.pop() {
        match step {
            Step::List(node) => {
                if node.id.is_none() && node.children.is_empty() {
                    continue;
                }
                out.push(b'(');
                stack.push(Step::Close);
                stack.push(Step::Members(node, false));
            }
            Step::Close => out.push(b')'),
            Step::Members(mut node, mut space) => loop {
                if let Some(id) = node.id {
                    if space {
                        out.push(b' ');
                    }
                    out.extend_from_slice(id.to_string().as_bytes());
                    space = true;
                }
                match node.children.as_slice() {
                    [] => break,
                    [only] => node = only,
                    several => {
                        if space {
                            out.push(b' ');
                        }
                        stack.extend(several.iter().rev().map(Step::List));
                        break;
                    }
                }
            },
        }
    }
    out.extend_from_slice(b"\r\n");
}

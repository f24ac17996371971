//! THREAD (RFC 5256): ORDEREDSUBJECT, REFERENCES, and REFS (Dovecot's /
//! draft-ietf-morg-inthread: REFERENCES without subject grouping, threads
//! ordered by their latest message).

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;

use super::criteria::SearchKey;
use super::sort::Envelope;
use super::subject::base_subject;
use crate::error::Result;
use crate::{Store, Viewer};

/// A thread algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadAlgorithm {
    /// Group by base subject, order by sent date.
    OrderedSubject,
    /// The RFC 5256 REFERENCES algorithm.
    References,
    /// REFERENCES without subject grouping, threads by latest message.
    Refs,
}

/// A node of a thread tree: a message (or a dummy, `uid` 0, standing for
/// a referenced message that is not there) and its replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadNode {
    /// The message's UID; 0 for a dummy.
    pub uid: u32,
    /// Its children, in order.
    pub children: Vec<ThreadNode>,
}

impl Store {
    /// The threads of the messages matching `key`, as top-level nodes in
    /// order.
    pub fn thread(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        algorithm: ThreadAlgorithm,
        key: &SearchKey,
        cancel: &AtomicBool,
    ) -> Result<Vec<ThreadNode>> {
        self.thread_as(mailbox, uidvalidity, algorithm, key, cancel, Viewer::Owner)
    }

    /// [`Store::thread`] as `viewer` sees the mailbox (a guest's SEEN and
    /// UNSEEN keys test the guest's own `\Seen`).
    pub fn thread_as(
        &self,
        mailbox: &str,
        uidvalidity: u32,
        algorithm: ThreadAlgorithm,
        key: &SearchKey,
        cancel: &AtomicBool,
        viewer: Viewer<'_>,
    ) -> Result<Vec<ThreadNode>> {
        let items = self.envelopes(mailbox, uidvalidity, key, cancel, viewer)?;
        let envs: Vec<Envelope> = items.into_iter().map(|(_, e)| e).collect();
        Ok(match algorithm {
            ThreadAlgorithm::OrderedSubject => ordered_subject(&envs),
            ThreadAlgorithm::References => references(&envs, true),
            ThreadAlgorithm::Refs => references(&envs, false),
        })
    }
}

fn leaf(uid: u32) -> ThreadNode {
    ThreadNode {
        uid,
        children: Vec::new(),
    }
}

/// ORDEREDSUBJECT: sort by (base subject, date, UID); each subject group
/// is a thread whose first message is the parent of the rest; threads in
/// order of their first message's date.
pub(crate) fn ordered_subject(envs: &[Envelope]) -> Vec<ThreadNode> {
    let mut sorted: Vec<(String, &Envelope)> = envs
        .iter()
        .map(|e| (base_subject(&e.subject).0.to_ascii_lowercase(), e))
        .collect();
    sorted.sort_by(|a, b| (&a.0, a.1.sent, a.1.uid).cmp(&(&b.0, b.1.sent, b.1.uid)));
    let mut threads: Vec<(i64, u32, ThreadNode)> = Vec::new();
    let mut last_subject: Option<&str> = None;
    for (subject, env) in &sorted {
        if last_subject == Some(subject.as_str())
            && let Some((_, _, node)) = threads.last_mut()
        {
            node.children.push(leaf(env.uid));
            continue;
        }
        last_subject = Some(subject.as_str());
        threads.push((env.sent, env.uid, leaf(env.uid)));
    }
    threads.sort_by_key(|t| (t.0, t.1));
    threads.into_iter().map(|t| t.2).collect()
}

/// A container of the REFERENCES algorithm.
#[derive(Debug, Default, Clone)]
struct Container {
    /// Index into the envelopes; `None` for a dummy.
    msg: Option<usize>,
    parent: Option<usize>,
    children: Vec<usize>,
}

struct Table {
    c: Vec<Container>,
    by_id: HashMap<String, usize>,
}

impl Table {
    fn get(&mut self, id: &str) -> usize {
        if let Some(&i) = self.by_id.get(id) {
            return i;
        }
        self.c.push(Container::default());
        let i = self.c.len() - 1;
        self.by_id.insert(id.to_string(), i);
        i
    }

    /// Whether `a` is `b` or one of `b`'s ancestors.
    fn is_ancestor(&self, a: usize, b: usize) -> bool {
        let mut cur = Some(b);
        let mut steps = 0;
        while let Some(x) = cur {
            if x == a {
                return true;
            }
            steps += 1;
            if steps > self.c.len() {
                return true;
            }
            cur = self.c[x].parent;
        }
        false
    }

    fn unlink(&mut self, child: usize) {
        if let Some(p) = self.c[child].parent.take() {
            self.c[p].children.retain(|&x| x != child);
        }
    }

    fn link(&mut self, parent: usize, child: usize) {
        self.unlink(child);
        self.c[child].parent = Some(parent);
        self.c[parent].children.push(child);
    }
}

/// REFERENCES (with `group_subjects`) or REFS (without; threads ordered
/// by their latest message).
pub(crate) fn references(envs: &[Envelope], group_subjects: bool) -> Vec<ThreadNode> {
    let mut t = Table {
        c: Vec::new(),
        by_id: HashMap::new(),
    };
    // (1) Containers and links.
    for (i, env) in envs.iter().enumerate() {
        let id = match &env.message_id {
            Some(id) if t.by_id.get(id).is_none_or(|&c| t.c[c].msg.is_none()) => id.clone(),
            // Missing or duplicate Message-ID: a unique one.
            _ => format!("\0uid-{}", env.uid),
        };
        let me = t.get(&id);
        t.c[me].msg = Some(i);
        let mut refs = env.references.clone();
        if refs.is_empty()
            && let Some(r) = &env.in_reply_to
        {
            refs.push(r.clone());
        }
        let mut prev: Option<usize> = None;
        for r in &refs {
            let cur = t.get(r);
            if let Some(p) = prev
                && t.c[cur].parent.is_none()
                && !t.is_ancestor(cur, p)
            {
                t.link(p, cur);
            }
            prev = Some(cur);
        }
        // The message's parent is the last reference, replacing any link.
        match prev {
            Some(p) if !t.is_ancestor(me, p) => t.link(p, me),
            _ => t.unlink(me),
        }
    }
    // (2) Root set.
    let roots: Vec<usize> = (0..t.c.len())
        .filter(|&i| t.c[i].parent.is_none())
        .collect();
    // (3) Prune into trees.
    let mut trees: Vec<Tree> = Vec::new();
    for r in roots {
        trees.extend(prune(&t, r, true));
    }
    let date = |tr: &Tree| tr.sort_date(envs);
    // (6) sort siblings by date, at every level (done first so dummies
    // know their first child).
    for tr in &mut trees {
        tr.sort_children(envs);
    }
    if group_subjects {
        // (4) root set by date.
        trees.sort_by_key(|tr| date(tr));
        // (5) group by base subject.
        trees = group(trees, envs);
        for tr in &mut trees {
            tr.sort_children(envs);
        }
    } else {
        trees.sort_by_key(|tr| (tr.latest(envs), tr.sort_date(envs)));
    }
    trees.into_iter().map(|tr| tr.into_node(envs)).collect()
}

/// A pruned tree (message index or dummy, children).
#[derive(Debug, Clone)]
struct Tree {
    msg: Option<usize>,
    children: Vec<Tree>,
}

impl Tree {
    /// The date used for ordering: the message's, or a dummy's first
    /// child's; then its UID for ties.
    fn sort_date(&self, envs: &[Envelope]) -> (i64, u32) {
        match self.msg {
            Some(i) => (envs[i].sent, envs[i].uid),
            None => self
                .children
                .first()
                .map(|c| c.sort_date(envs))
                .unwrap_or((i64::MAX, u32::MAX)),
        }
    }

    fn latest(&self, envs: &[Envelope]) -> (i64, u32) {
        let own = self
            .msg
            .map(|i| (envs[i].sent, envs[i].uid))
            .unwrap_or((i64::MIN, 0));
        self.children
            .iter()
            .map(|c| c.latest(envs))
            .fold(own, std::cmp::max)
    }

    fn sort_children(&mut self, envs: &[Envelope]) {
        for c in &mut self.children {
            c.sort_children(envs);
        }
        self.children.sort_by_key(|c| c.sort_date(envs));
    }

    fn subject(&self, envs: &[Envelope]) -> Option<(String, bool)> {
        let i = match self.msg {
            Some(i) => i,
            None => self.children.first()?.msg?,
        };
        let (base, reply) = base_subject(&envs[i].subject);
        (!base.is_empty()).then(|| (base.to_ascii_lowercase(), reply))
    }

    fn into_node(self, envs: &[Envelope]) -> ThreadNode {
        ThreadNode {
            uid: self.msg.map(|i| envs[i].uid).unwrap_or(0),
            children: self
                .children
                .into_iter()
                .map(|c| c.into_node(envs))
                .collect(),
        }
    }
}

/// Step 3: drops empty leaf containers and promotes a dummy's children,
/// except a dummy at the root with several children.
fn prune(t: &Table, i: usize, at_root: bool) -> Vec<Tree> {
    let mut kids: Vec<Tree> = Vec::new();
    for &c in &t.c[i].children {
        kids.extend(prune(t, c, false));
    }
    match t.c[i].msg {
        Some(_) => vec![Tree {
            msg: t.c[i].msg,
            children: kids,
        }],
        None if kids.is_empty() => Vec::new(),
        None if at_root && kids.len() > 1 => vec![Tree {
            msg: None,
            children: kids,
        }],
        None => kids,
    }
}

/// Step 5: merges root trees with the same base subject.
fn group(trees: Vec<Tree>, envs: &[Envelope]) -> Vec<Tree> {
    let subjects: Vec<Option<(String, bool)>> = trees.iter().map(|tr| tr.subject(envs)).collect();
    // (5B) Which root holds each subject.
    let mut table: HashMap<String, usize> = HashMap::new();
    for (i, s) in subjects.iter().enumerate() {
        let Some((base, reply)) = s else { continue };
        match table.get(base) {
            None => {
                table.insert(base.clone(), i);
            }
            Some(&j) => {
                let this_dummy = trees[i].msg.is_none();
                let old_dummy = trees[j].msg.is_none();
                let old_reply = subjects[j].as_ref().is_some_and(|s| s.1);
                if !old_dummy && (this_dummy || (old_reply && !reply)) {
                    table.insert(base.clone(), i);
                }
            }
        }
    }
    // (5C) Merge the others into the holder.
    let mut slots: Vec<Option<Tree>> = trees.into_iter().map(Some).collect();
    for i in 0..slots.len() {
        let Some((base, reply)) = subjects[i].clone() else {
            continue;
        };
        let Some(&j) = table.get(&base) else { continue };
        if i == j {
            continue;
        }
        let (Some(this), Some(mut holder)) = (slots[i].take(), slots[j].take()) else {
            continue;
        };
        let holder_reply = subjects[j].as_ref().is_some_and(|s| s.1);
        holder = match (holder.msg.is_none(), this.msg.is_none()) {
            (true, true) => {
                holder.children.extend(this.children);
                holder
            }
            (true, false) => {
                holder.children.push(this);
                holder
            }
            (false, true) => {
                let mut this = this;
                this.children.push(holder);
                this
            }
            (false, false) if !holder_reply && reply => {
                holder.children.push(this);
                holder
            }
            (false, false) => Tree {
                msg: None,
                children: vec![holder, this],
            },
        };
        slots[j] = Some(holder);
    }
    slots.into_iter().flatten().collect()
}

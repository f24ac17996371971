//! `* THREAD` in RFC 5256's nested form, from the RFC's examples and from
//! trees deep enough to break a recursive writer.

use crate::{ThreadNode, thread_response};

/// Runs an encoder into a string.
fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut out = Vec::new();
    f(&mut out);
    String::from_utf8(out).expect("UTF-8 in test output")
}

/// A thread node.
fn node(id: u32, children: Vec<ThreadNode>) -> ThreadNode {
    ThreadNode {
        id: Some(id),
        children,
    }
}

#[test]
fn threads_in_the_nested_form() {
    // RFC 5256 §4's format examples.
    let threads = vec![
        node(2, vec![]),
        node(
            3,
            vec![node(
                6,
                vec![
                    node(4, vec![node(23, vec![])]),
                    node(44, vec![node(7, vec![node(96, vec![])])]),
                ],
            )],
        ),
    ];
    assert_eq!(
        text(|o| thread_response(o, &threads)),
        "* THREAD (2)(3 6 (4 23)(44 7 96))\r\n"
    );
    let dummy = ThreadNode {
        id: None,
        children: vec![node(3, vec![]), node(5, vec![])],
    };
    assert_eq!(
        text(|o| thread_response(o, &[dummy])),
        "* THREAD ((3)(5))\r\n"
    );
    // A dummy with one child is just the child; an empty one is nothing.
    let single = ThreadNode {
        id: None,
        children: vec![node(9, vec![node(10, vec![])])],
    };
    let empty = ThreadNode {
        id: None,
        children: vec![],
    };
    assert_eq!(
        text(|o| thread_response(o, &[single, empty])),
        "* THREAD (9 10)\r\n"
    );
    assert_eq!(text(|o| thread_response(o, &[])), "* THREAD\r\n");
    // RFC 5256 §4's long example, from the parent links it describes.
    let threads = vec![
        node(166, vec![]),
        node(167, vec![]),
        node(168, vec![]),
        node(169, vec![]),
        node(172, vec![]),
        node(170, vec![]),
        node(171, vec![]),
        node(173, vec![]),
        node(
            174,
            vec![
                node(175, vec![]),
                node(176, vec![]),
                node(178, vec![]),
                node(181, vec![]),
                node(180, vec![]),
            ],
        ),
        node(179, vec![]),
        node(
            177,
            [183, 182, 188, 184, 185, 186, 187, 189]
                .iter()
                .map(|&n| node(n, vec![]))
                .collect(),
        ),
        node(190, vec![]),
        node(191, vec![]),
        node(192, vec![]),
        node(193, vec![]),
        node(194, vec![node(195, vec![])]),
        node(196, vec![node(197, vec![]), node(198, vec![])]),
        node(199, vec![]),
        node(200, vec![node(202, vec![])]),
        node(201, vec![]),
        node(203, vec![]),
        node(204, vec![]),
        node(205, vec![]),
        node(206, vec![node(207, vec![])]),
        node(208, vec![]),
    ];
    assert_eq!(
        text(|o| thread_response(o, &threads)),
        "* THREAD (166)(167)(168)(169)(172)(170)(171)(173)(174 (175)(176)(178)(181)(180))(179)(177 (183)(182)(188)(184)(185)(186)(187)(189))(190)(191)(192)(193)(194 195)(196 (197)(198))(199)(200 202)(201)(203)(204)(205)(206 207)(208)\r\n"
    );
}

/// Drops a tree without recursion (the derived drop would recurse once
/// per level).
fn dismantle(root: ThreadNode) {
    let mut stack = vec![root];
    while let Some(mut node) = stack.pop() {
        stack.append(&mut node.children);
    }
}

#[test]
fn deep_threads_do_not_exhaust_the_stack() {
    // A reply chain 200,000 long, then a comb of nested branches.
    let mut chain = node(200_000, vec![]);
    for id in (1..200_000).rev() {
        chain = node(id, vec![chain]);
    }
    let out = text(|o| thread_response(o, std::slice::from_ref(&chain)));
    assert!(out.starts_with("* THREAD (1 2 3 "));
    assert!(out.ends_with(" 199999 200000)\r\n"));
    dismantle(chain);
    let mut comb = node(0, vec![]);
    for id in 1..100_000 {
        comb = node(id, vec![node(1_000_000 + id, vec![]), comb]);
    }
    let out = text(|o| thread_response(o, std::slice::from_ref(&comb)));
    assert_eq!(
        out.bytes().filter(|&b| b == b'(').count(),
        out.bytes().filter(|&b| b == b')').count()
    );
    dismantle(comb);
}

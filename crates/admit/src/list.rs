//! An intrusive doubly-linked list: the semaphore's wait queue, without the
//! semaphore.
//!
//! The nodes live in memory the list does not own (each waiter inside its
//! acquire future), so linking and unlinking allocate nothing. The list keeps
//! only its two ends, and it borrows even those ([`List::new`]): the engine
//! keeps the head in the wait-queue lock's word and the tail beside it.
//!
//! # What it guarantees
//!
//! - [`push_back`](List::push_back) writes the new node and the old tail, and
//!   no other node.
//! - [`unlink`](List::unlink) of the head writes the head and no other node;
//!   of any other node, the node and its two neighbours. Every other node's
//!   links are left as they were, so the list stays linked in order.
//! - A node's `prev` is kept only while it is not the head: the head's is
//!   stale and never read. That is what spares the head's successor a write
//!   when the head leaves, the common case.
//! - An unlinked node has both links cleared; the list never touches it
//!   again.
//!
//! # What the caller upholds
//!
//! The list cannot check its nodes, so its operations are `unsafe`, and the
//! caller (the engine in [`crate::raw`]) promises that:
//!
//! - a node is linked in at most one list at a time, and a linked node stays
//!   alive and does not move until it is unlinked;
//! - it has exclusive access to the ends and to every linked node's links for
//!   as long as a [`List`] exists (in the engine: it holds the wait-queue
//!   lock).
//!
//! Nodes give the list their [`Links`] through the [`Node`] trait, in a
//! closure, so that under loom every access to them is a tracked access to the
//! node's cell.

use core::marker::PhantomData;
use core::ptr::NonNull;

/// The two links a node of a [`List`] carries.
pub(crate) struct Links<T> {
    /// The previous node; stale (never read) while this node is the head.
    prev: Option<NonNull<T>>,
    next: Option<NonNull<T>>,
}

impl<T> Links<T> {
    /// The links of a node that is in no list.
    pub(crate) const fn new() -> Self {
        Self {
            prev: None,
            next: None,
        }
    }
}

/// A type that embeds [`Links`], and so can be linked in a [`List`].
///
/// # Safety
///
/// `with_links` must always give access to the same `Links`, stored inside
/// the node, and to nothing else of the node's that the list's user touches
/// at the same time.
pub(crate) unsafe trait Node: Sized {
    /// Runs `f` on the node's links.
    ///
    /// # Safety
    ///
    /// `node` must be alive, and the caller must have exclusive access to its
    /// links.
    unsafe fn with_links<R>(node: NonNull<Self>, f: impl FnOnce(&mut Links<Self>) -> R) -> R;
}

/// A doubly-linked list of `T`s, through the ends it borrows. See the module
/// docs for what it guarantees and what the caller upholds.
pub(crate) struct List<'a, T: Node> {
    head: &'a mut Option<NonNull<T>>,
    tail: &'a mut Option<NonNull<T>>,
}

impl<'a, T: Node> List<'a, T> {
    /// The list whose ends are `head` and `tail`.
    ///
    /// # Safety
    ///
    /// `head` and `tail` must be `None` together (an empty list) or be the
    /// first and last nodes of one list built by these operations. While the
    /// returned value exists, the caller must have exclusive access to the
    /// links of every node linked in it.
    #[inline]
    pub(crate) unsafe fn new(
        head: &'a mut Option<NonNull<T>>,
        tail: &'a mut Option<NonNull<T>>,
    ) -> Self {
        Self { head, tail }
    }

    /// The first node.
    #[inline]
    pub(crate) fn head(&self) -> Option<NonNull<T>> {
        *self.head
    }

    /// Links `node` at the back.
    ///
    /// # Safety
    ///
    /// `node` must be alive and linked in no list, and must stay alive and
    /// not move until it is unlinked.
    #[inline]
    pub(crate) unsafe fn push_back(&mut self, node: NonNull<T>) {
        let tail = *self.tail;
        // SAFETY: the caller gives us `node`, alive and in no list, so its
        // links are ours to write.
        unsafe {
            T::with_links(node, |links| {
                links.prev = tail;
                links.next = None;
            })
        };
        match tail {
            // SAFETY: the tail is linked, hence alive, and we have exclusive
            // access to linked nodes' links (`new`).
            Some(tail) => unsafe { T::with_links(tail, |links| links.next = Some(node)) },
            None => *self.head = Some(node),
        }
        *self.tail = Some(node);
    }

    /// Unlinks `node` and clears its links. Returns whether it was the head.
    ///
    /// # Safety
    ///
    /// `node` must be linked in this list.
    #[inline]
    pub(crate) unsafe fn unlink(&mut self, node: NonNull<T>) -> bool {
        // SAFETY: `node` is linked (caller), hence alive, and ours to access
        // (`new`).
        let (prev, next) =
            unsafe { T::with_links(node, |links| (links.prev.take(), links.next.take())) };
        let was_head = *self.head == Some(node);
        // The head's `prev` is stale; any other linked node's is linked.
        let prev = if was_head { None } else { prev };
        match prev {
            None => *self.head = next,
            // SAFETY: `prev` is linked, hence alive and ours to access.
            Some(prev) => unsafe { T::with_links(prev, |links| links.next = next) },
        }
        match next {
            // A new head's `prev` is left stale: it is never read.
            Some(_) if was_head => {}
            // SAFETY: `next` is linked, hence alive and ours to access.
            Some(next) => unsafe { T::with_links(next, |links| links.prev = prev) },
            None => *self.tail = prev,
        }
        was_head
    }

    /// The linked nodes, head first.
    #[inline]
    pub(crate) fn iter(&self) -> Iter<'_, T> {
        Iter {
            next: self.head(),
            _list: PhantomData,
        }
    }
}

/// The nodes of a [`List`], head first; borrows the list, so that nothing is
/// unlinked while it walks.
pub(crate) struct Iter<'a, T: Node> {
    next: Option<NonNull<T>>,
    _list: PhantomData<&'a ()>,
}

impl<T: Node> Iterator for Iter<'_, T> {
    type Item = NonNull<T>;

    #[inline]
    fn next(&mut self) -> Option<NonNull<T>> {
        let node = self.next?;
        // SAFETY: every node reached from the head is linked, hence alive, and
        // the borrowed list gives us exclusive access to its links.
        self.next = unsafe { T::with_links(node, |links| links.next) };
        Some(node)
    }
}

#[cfg(all(test, feature = "std", not(admit_loom)))]
mod tests {
    use core::ptr::NonNull;
    use std::vec::Vec;

    use super::{Links, List, Node};
    use crate::sync::UnsafeCell;

    /// A node with an identity; never moved while linked (the tests keep them
    /// in arrays that outlive every list).
    struct Item {
        id: usize,
        links: UnsafeCell<Links<Item>>,
    }

    // SAFETY: `with_links` always gives the `links` field and nothing else.
    unsafe impl Node for Item {
        unsafe fn with_links<R>(node: NonNull<Self>, f: impl FnOnce(&mut Links<Self>) -> R) -> R {
            // SAFETY: alive, with exclusive access to the links (caller).
            unsafe { node.as_ref() }
                .links
                .with_mut(|links| f(unsafe { &mut *links }))
        }
    }

    fn items<const N: usize>() -> [Item; N] {
        core::array::from_fn(|id| Item {
            id,
            links: UnsafeCell::new(Links::new()),
        })
    }

    fn ptr(item: &Item) -> NonNull<Item> {
        NonNull::from(item)
    }

    fn links(item: &Item) -> (Option<NonNull<Item>>, Option<NonNull<Item>>) {
        // SAFETY: the tests are single-threaded and hold no other access.
        unsafe { Item::with_links(ptr(item), |l| (l.prev, l.next)) }
    }

    /// The ids from head to tail, after checking that every node but the
    /// head links back to its predecessor and that the tail is the last node.
    fn ids(list: &List<'_, Item>) -> Vec<usize> {
        let mut seen: Vec<NonNull<Item>> = Vec::new();
        for node in list.iter() {
            // SAFETY: linked nodes are alive.
            let (prev, _) = links(unsafe { node.as_ref() });
            if let Some(&before) = seen.last() {
                assert_eq!(prev, Some(before), "a node's prev is not its predecessor");
            }
            seen.push(node);
        }
        assert_eq!(
            *list.tail,
            seen.last().copied(),
            "the tail is not the last node"
        );
        // SAFETY: as above.
        seen.iter().map(|n| unsafe { n.as_ref() }.id).collect()
    }

    /// Runs `f` on an empty list whose ends live on the stack.
    fn with_list(f: impl FnOnce(&mut List<'_, Item>)) {
        let (mut head, mut tail) = (None, None);
        // SAFETY: empty ends; the tests are single-threaded.
        f(&mut unsafe { List::new(&mut head, &mut tail) });
    }

    /// Pushes every item, in order.
    fn push_all(list: &mut List<'_, Item>, items: &[Item]) {
        for item in items {
            // SAFETY: the items are alive, unlinked, and outlive the list.
            unsafe { list.push_back(ptr(item)) };
        }
    }

    #[test]
    fn empty_list_has_no_head_and_no_nodes() {
        with_list(|list| {
            assert_eq!(list.head(), None);
            assert_eq!(list.iter().count(), 0);
            assert_eq!(ids(list), []);
        });
    }

    #[test]
    fn push_back_appends_in_order() {
        let items = items::<3>();
        with_list(|list| {
            push_all(list, &items);
            assert_eq!(list.head(), Some(ptr(&items[0])));
            assert_eq!(ids(list), [0, 1, 2]);
        });
    }

    /// Pops from the front until empty (how the engine serves the queue).
    fn pop_front(list: &mut List<'_, Item>) -> Option<NonNull<Item>> {
        let head = list.head()?;
        // SAFETY: the head is linked.
        assert!(unsafe { list.unlink(head) }, "the head was not the head");
        Some(head)
    }

    #[test]
    fn popping_the_head_clears_its_links_and_leaves_the_rest() {
        let items = items::<3>();
        with_list(|list| {
            push_all(list, &items);
            assert_eq!(pop_front(list), Some(ptr(&items[0])));
            assert_eq!(links(&items[0]), (None, None));
            assert_eq!(ids(list), [1, 2]);
            assert_eq!(pop_front(list), Some(ptr(&items[1])));
            assert_eq!(pop_front(list), Some(ptr(&items[2])));
            assert_eq!(pop_front(list), None);
            assert_eq!((list.head(), *list.tail), (None, None));
        });
    }

    #[test]
    fn unlink_head_middle_and_tail_fixes_the_neighbours() {
        let items = items::<5>();
        with_list(|list| {
            push_all(list, &items);
            // SAFETY: linked.
            let was_head = unsafe { list.unlink(ptr(&items[0])) };
            assert!(was_head, "the head");
            assert_eq!(ids(list), [1, 2, 3, 4]);
            // SAFETY: linked.
            let was_head = unsafe { list.unlink(ptr(&items[2])) };
            assert!(!was_head, "the middle");
            assert_eq!(links(&items[2]), (None, None));
            assert_eq!(ids(list), [1, 3, 4]);
            // SAFETY: linked.
            let was_head = unsafe { list.unlink(ptr(&items[4])) };
            assert!(!was_head, "the tail");
            assert_eq!(ids(list), [1, 3]);
            assert_eq!(links(&items[3]).1, None, "the new tail has no next");
        });
    }

    #[test]
    fn unlinking_the_only_node_empties_the_list() {
        let items = items::<1>();
        with_list(|list| {
            push_all(list, &items);
            // SAFETY: linked.
            assert!(unsafe { list.unlink(ptr(&items[0])) });
            assert_eq!((list.head(), *list.tail), (None, None));
            // Reusable once empty: the next push is head and tail.
            push_all(list, &items);
            assert_eq!(ids(list), [0]);
        });
    }

    #[test]
    fn an_unlinked_node_can_be_pushed_again_at_the_back() {
        let items = items::<3>();
        with_list(|list| {
            push_all(list, &items);
            // SAFETY: linked, then unlinked and alive.
            unsafe {
                list.unlink(ptr(&items[1]));
                list.push_back(ptr(&items[1]));
            }
            assert_eq!(ids(list), [0, 2, 1]);
        });
    }

    /// Every order of unlinking four nodes, checking the whole list after
    /// each step against a plain vector.
    #[test]
    fn every_unlink_order_keeps_the_list_in_order() {
        let mut orders = Vec::new();
        permutations(&mut [0, 1, 2, 3], 0, &mut orders);
        assert_eq!(orders.len(), 24);
        for order in orders {
            let items = items::<4>();
            with_list(|list| {
                push_all(list, &items);
                let mut expected: Vec<usize> = (0..4).collect();
                for id in order {
                    let was_head = expected[0] == id;
                    // SAFETY: `id` is still linked.
                    assert_eq!(unsafe { list.unlink(ptr(&items[id])) }, was_head);
                    expected.retain(|&e| e != id);
                    assert_eq!(ids(list), expected, "unlinking {order:?}");
                }
            });
        }
    }

    fn permutations(ids: &mut [usize; 4], k: usize, out: &mut Vec<[usize; 4]>) {
        if k == ids.len() {
            return out.push(*ids);
        }
        for i in k..ids.len() {
            ids.swap(k, i);
            permutations(ids, k + 1, out);
            ids.swap(k, i);
        }
    }
}

//! How the main lcore and the workers share state without stopping each other.
//!
//! - Configuration: the main lcore builds an immutable value and [`Publisher::publish`]es
//!   it with one atomic epoch bump; each worker's [`Subscriber::refresh`] notices the new
//!   epoch between bursts (one relaxed load when nothing changed) and takes the new `Arc`.
//!   The main lcore keeps every published value until only it holds it
//!   ([`Publisher::collect`]), so a worker never pays for freeing a large FIB.
//! - Questions to a worker (`show nat44 sessions`, `show trace`, ...): a [`Mailbox`] per
//!   worker. The worker checks one flag per burst and answers between bursts; the main
//!   lcore waits with a deadline, so a stuck worker cannot hang the console.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Locks a mutex whose data stays consistent even if a holder panicked: every critical
/// section here only moves one value in or out.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The main lcore's side of a published value.
pub struct Publisher<T> {
    current: Mutex<Arc<T>>,
    epoch: AtomicU64,
    /// Every value published and possibly still held by a worker, newest last.
    history: Mutex<Vec<Arc<T>>>,
}

impl<T> Publisher<T> {
    pub fn new(initial: T) -> Arc<Publisher<T>> {
        let first = Arc::new(initial);
        Arc::new(Publisher {
            current: Mutex::new(first.clone()),
            epoch: AtomicU64::new(0),
            history: Mutex::new(vec![first]),
        })
    }

    /// Makes `value` the one workers see from their next burst on.
    pub fn publish(&self, value: T) {
        let value = Arc::new(value);
        lock(&self.history).push(value.clone());
        *lock(&self.current) = value;
        self.epoch.fetch_add(1, Ordering::Release);
        self.collect();
    }

    /// The value most recently published.
    pub fn current(&self) -> Arc<T> {
        lock(&self.current).clone()
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Frees the values no worker holds any more; returns how many are still alive
    /// (the current one included).
    pub fn collect(&self) -> usize {
        let current = self.current();
        let mut history = lock(&self.history);
        // Held here, in `history`, and by nobody else: retired for good.
        history.retain(|v| Arc::ptr_eq(v, &current) || Arc::strong_count(v) > 1);
        history.len()
    }

    pub fn subscribe(self: &Arc<Self>) -> Subscriber<T> {
        let seen = self.epoch();
        Subscriber {
            publisher: self.clone(),
            seen,
            value: self.current(),
        }
    }
}

/// A worker's side: the value it uses for the current burst.
pub struct Subscriber<T> {
    publisher: Arc<Publisher<T>>,
    seen: u64,
    value: Arc<T>,
}

impl<T> Subscriber<T> {
    /// Takes the newest value if one was published since the last call. Call it between
    /// bursts only; returns whether the value changed.
    #[inline]
    pub fn refresh(&mut self) -> bool {
        let epoch = self.publisher.epoch.load(Ordering::Acquire);
        if epoch == self.seen {
            return false;
        }
        self.value = self.publisher.current();
        self.seen = epoch;
        true
    }

    #[inline]
    pub fn get(&self) -> &T {
        &self.value
    }

    /// The value as a shared handle, for a worker that keeps it across calls.
    pub fn handle(&self) -> Arc<T> {
        self.value.clone()
    }
}

/// One question at a time from the main lcore to one worker.
pub struct Mailbox<Q, A> {
    pending: AtomicBool,
    /// Questions carry a number so that an answer to a withdrawn question, arriving
    /// late, is never taken for the answer to the next one.
    sequence: AtomicU64,
    question: Mutex<Option<(u64, Q)>>,
    answer: Mutex<Option<(u64, A)>>,
    answered: Condvar,
    /// Serialises askers (console and several socket clients) without blocking the worker.
    askers: Mutex<()>,
}

impl<Q, A> Default for Mailbox<Q, A> {
    fn default() -> Self {
        Mailbox {
            pending: AtomicBool::new(false),
            sequence: AtomicU64::new(0),
            question: Mutex::new(None),
            answer: Mutex::new(None),
            answered: Condvar::new(),
            askers: Mutex::new(()),
        }
    }
}

impl<Q, A> std::fmt::Debug for Mailbox<Q, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailbox")
            .field("pending", &self.pending.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<Q, A> Mailbox<Q, A> {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Asks the worker and waits up to `timeout` for its answer. `None` means the worker
    /// did not answer in time (it is stopped, stuck or slow); the question is withdrawn,
    /// unless the worker took it already: then it still acts on it and its answer is
    /// dropped, so a question that changes something may still take effect.
    pub fn ask(&self, question: Q, timeout: Duration) -> Option<A> {
        let _turn = lock(&self.askers);
        let number = self.sequence.fetch_add(1, Ordering::Relaxed) + 1;
        *lock(&self.question) = Some((number, question));
        self.pending.store(true, Ordering::Release);
        let answer = lock(&self.answer);
        let (mut answer, _) = self
            .answered
            .wait_timeout_while(
                answer,
                timeout,
                |a| !matches!(a, Some((n, _)) if *n == number),
            )
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let got = answer.take().filter(|(n, _)| *n == number).map(|(_, a)| a);
        drop(answer);
        if got.is_none() {
            self.pending.store(false, Ordering::Release);
            *lock(&self.question) = None;
        }
        got
    }

    /// The worker's per-burst check: answers a pending question with `handle`.
    #[inline]
    pub fn serve(&self, handle: impl FnOnce(Q) -> A) {
        if !self.pending.load(Ordering::Acquire) {
            return;
        }
        self.serve_slow(handle);
    }

    #[cold]
    fn serve_slow(&self, handle: impl FnOnce(Q) -> A) {
        let question = lock(&self.question).take();
        self.pending.store(false, Ordering::Release);
        if let Some((number, q)) = question {
            let a = handle(q);
            *lock(&self.answer) = Some((number, a));
            self.answered.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    #[test]
    fn subscriber_sees_new_value_only_after_refresh() {
        let p = Publisher::new(1u32);
        let mut s = p.subscribe();
        assert!(!s.refresh());
        p.publish(2);
        assert_eq!(*s.get(), 1, "a burst in progress keeps its value");
        assert!(s.refresh());
        assert_eq!(*s.get(), 2);
    }

    #[test]
    fn old_values_are_freed_once_no_worker_holds_them() {
        let p = Publisher::new(vec![0u8; 16]);
        let mut a = p.subscribe();
        let mut b = p.subscribe();
        p.publish(vec![1u8; 16]);
        assert_eq!(p.collect(), 2, "workers still hold the first value");
        a.refresh();
        assert_eq!(p.collect(), 2, "one worker still holds the first value");
        b.refresh();
        assert_eq!(p.collect(), 1);
        for i in 0..100u8 {
            p.publish(vec![i; 16]);
        }
        a.refresh();
        b.refresh();
        assert_eq!(p.collect(), 1);
    }

    #[test]
    fn mailbox_round_trip_and_timeout() {
        let mb: Arc<Mailbox<u32, u32>> = Mailbox::new();
        let stop = Arc::new(AtomicBool::new(false));
        let worker = {
            let (mb, stop) = (mb.clone(), stop.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    mb.serve(|q| q * 2);
                    thread::yield_now();
                }
            })
        };
        for i in 0..50 {
            assert_eq!(mb.ask(i, Duration::from_secs(5)), Some(i * 2));
        }
        stop.store(true, Ordering::Relaxed);
        worker.join().unwrap();
        assert_eq!(mb.ask(7, Duration::from_millis(20)), None, "nobody serves");
        // A late worker finds the withdrawn question gone.
        mb.serve(|_| panic!("withdrawn question must not be served"));
    }
}

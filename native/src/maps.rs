//! The hash maps of the per-line loop: foldhash, seeded per process (the keys are logged text,
//! which a client chooses: the seed keeps it from choosing collisions), and far cheaper than
//! SipHash on the short keys looked up several times a line.

pub type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub type Set<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// A key compared and hashed by the address of what it holds: for caches of values that are
/// already interned. Holding the `Rc` keeps the address from being reused while the entry lives;
/// two equal values under different addresses are only a cache miss.
#[derive(Clone)]
pub struct ByAddress<T: ?Sized>(pub std::rc::Rc<T>);

impl<T: ?Sized> PartialEq for ByAddress<T> {
    fn eq(&self, other: &Self) -> bool {
        std::rc::Rc::ptr_eq(&self.0, &other.0)
    }
}

impl<T: ?Sized> Eq for ByAddress<T> {}

impl<T: ?Sized> std::hash::Hash for ByAddress<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (std::rc::Rc::as_ptr(&self.0) as *const () as usize).hash(state);
    }
}

//! The key an object is stored and served under.

/// Where an object sorts in the store: by namespace, then name, then uid. Ordering by name keeps
/// scrapes stable and readable; the uid keeps a deleted-and-recreated object distinct.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey(Box<str>);

impl ObjectKey {
    pub fn new(namespace: &str, name: &str, uid: &str) -> Self {
        let mut s = String::with_capacity(namespace.len() + name.len() + uid.len() + 2);
        s.push_str(namespace);
        s.push('\0');
        s.push_str(name);
        s.push('\0');
        s.push_str(uid);
        ObjectKey(s.into_boxed_str())
    }

    /// The object's namespace ("" for cluster-scoped objects).
    pub fn namespace(&self) -> &str {
        self.0.split('\0').next().unwrap_or("")
    }

    /// The object's uid.
    pub fn uid(&self) -> &str {
        self.0.split('\0').nth(2).unwrap_or("")
    }

    /// The object's name.
    pub fn name(&self) -> &str {
        self.0.split('\0').nth(1).unwrap_or("")
    }

    /// Bytes of the key's text.
    pub fn text_len(&self) -> usize {
        self.0.len()
    }
}

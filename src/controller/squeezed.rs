//! Text kept compressed against a sibling: the objects of one kind in the operator's caches share
//! nearly all their JSON (the same keys, the same labels, the same template the operator
//! rendered), so each is stored as an LZ4 block whose matches point into the first object of its
//! kind that this process saw (the kind's dictionary), not as the whole text.
//!
//! At 10,000 services a cached Deployment's or ChittyDeployment's JSON is about 3 KB; squeezed
//! against its kind's dictionary it is a few hundred bytes. Reading it back costs a
//! decompression of a few microseconds, next to the JSON decoding that follows it.

use std::any::TypeId;
use std::sync::{Mutex, PoisonError};

/// The dictionary is the start of its first object: LZ4 reaches back 64 KiB at most, and an
/// object far above the usual size would only make a worse dictionary, not a better one.
const DICTIONARY_MAX: usize = 16 * 1024;

/// One dictionary per kind, set by the kind's first object and kept for the process's life (a
/// handful of kinds, a few KiB each): every squeezed text points into it.
static DICTIONARIES: Mutex<Vec<(TypeId, &'static [u8])>> = Mutex::new(Vec::new());

/// The dictionary of `kind`, made from `text` if the kind has none yet.
fn dictionary(kind: TypeId, text: &[u8]) -> &'static [u8] {
    let mut dictionaries = DICTIONARIES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, dictionary)) = dictionaries.iter().find(|(k, _)| *k == kind) {
        return dictionary;
    }
    let dictionary: &'static [u8] = Box::leak(text[..text.len().min(DICTIONARY_MAX)].into());
    dictionaries.push((kind, dictionary));
    dictionary
}

/// Text squeezed against its kind's dictionary (see the module's header).
#[derive(Clone)]
pub struct Squeezed {
    /// The LZ4 block, its uncompressed length first.
    block: Box<[u8]>,
    dictionary: &'static [u8],
}

impl Squeezed {
    /// Squeezes `text`, an object of `kind`.
    pub fn new(kind: TypeId, text: &[u8]) -> Self {
        let dictionary = dictionary(kind, text);
        let block = lz4_flex::block::compress_prepend_size_with_dict(text, dictionary);
        Self {
            block: block.into_boxed_slice(),
            dictionary,
        }
    }

    /// The text as it was given.
    pub fn text(&self) -> Vec<u8> {
        lz4_flex::block::decompress_size_prepended_with_dict(&self.block, self.dictionary)
            .expect("a block this process compressed decompresses")
    }

    /// Bytes held for this text, the dictionary aside.
    pub fn len(&self) -> usize {
        self.block.len()
    }

    pub fn is_empty(&self) -> bool {
        self.block.is_empty()
    }
}

impl std::fmt::Debug for Squeezed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct KindA;
    struct KindB;

    fn object(name: &str, replicas: u32) -> String {
        format!(
            r#"{{"spec":{{"replicas":{replicas},"selector":{{"matchLabels":{{"app.kubernetes.io/name":"{name}","chitty.cc/service":"{name}"}}}},"template":{{"metadata":{{"labels":{{"app.kubernetes.io/name":"{name}","chitty.cc/service":"{name}"}}}},"spec":{{"containers":[{{"name":"app","image":"registry.chitty.cc/{name}:1.0.0","imagePullPolicy":"IfNotPresent","terminationMessagePath":"/dev/termination-log"}}]}}}}}},"status":{{"observedGeneration":3,"replicas":{replicas},"availableReplicas":{replicas}}}}}"#
        )
    }

    #[test]
    fn gives_back_the_text_it_was_given() {
        for text in [
            object("first", 1),
            object("second-service", 3),
            String::new(),
        ] {
            let squeezed = Squeezed::new(TypeId::of::<KindA>(), text.as_bytes());
            assert_eq!(squeezed.text(), text.as_bytes());
        }
    }

    #[test]
    fn a_sibling_of_the_first_object_takes_a_fraction_of_its_text() {
        let first = object("svc-00001", 1);
        Squeezed::new(TypeId::of::<KindB>(), first.as_bytes());
        let sibling = object("svc-04242", 2);
        let squeezed = Squeezed::new(TypeId::of::<KindB>(), sibling.as_bytes());
        assert_eq!(squeezed.text(), sibling.as_bytes());
        assert!(
            squeezed.len() * 4 < sibling.len(),
            "{} bytes squeezed for {} of text",
            squeezed.len(),
            sibling.len()
        );
    }

    #[test]
    fn each_kind_has_its_own_dictionary() {
        struct KindC;
        struct KindD;
        let c = Squeezed::new(TypeId::of::<KindC>(), b"{\"c\":1}");
        let d = Squeezed::new(TypeId::of::<KindD>(), b"{\"d\":2}");
        assert_eq!(c.dictionary, b"{\"c\":1}");
        assert_eq!(d.dictionary, b"{\"d\":2}");
        assert_eq!(d.text(), b"{\"d\":2}");
    }
}

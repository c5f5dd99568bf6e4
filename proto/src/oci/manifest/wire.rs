//! The wire form of a manifest: every field optional so each rule is checked by hand, and
//! deserializers that refuse a JSON array where an object belongs.

use core::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde_json::Number;

use super::{Annotations, Platform};
use crate::limits::MANIFEST_DESCRIPTORS_MAX;

/// A manifest or index as sent, every field optional so each rule is checked by hand.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WireManifest {
    pub(super) schema_version: Option<Number>,
    pub(super) media_type: Option<String>,
    pub(super) artifact_type: Option<String>,
    pub(super) config: Option<Object<WireDescriptor>>,
    pub(super) layers: Option<DescriptorList>,
    pub(super) manifests: Option<DescriptorList>,
    pub(super) subject: Option<Object<WireDescriptor>>,
    pub(super) annotations: Option<Annotations>,
}

/// A descriptor as sent.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WireDescriptor {
    pub(super) media_type: Option<String>,
    pub(super) digest: Option<String>,
    pub(super) size: Option<Number>,
    pub(super) urls: Option<Vec<String>>,
    pub(super) annotations: Option<Annotations>,
    pub(super) data: Option<String>,
    pub(super) platform: Option<Object<Platform>>,
    pub(super) artifact_type: Option<String>,
}

/// A JSON array of descriptors, kept up to [`MANIFEST_DESCRIPTORS_MAX`] entries. Entries past
/// the limit are parsed and dropped without being stored, so a 4 MiB body of `{}`s cannot make
/// the parser allocate hundreds of descriptors per kilobyte.
pub(super) struct DescriptorList {
    pub(super) descriptors: Vec<WireDescriptor>,
    pub(super) overflowed: bool,
}

impl<'de> Deserialize<'de> for DescriptorList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(DescriptorListVisitor)
    }
}

pub(super) struct DescriptorListVisitor;

impl<'de> Visitor<'de> for DescriptorListVisitor {
    type Value = DescriptorList;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an array of descriptors")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<DescriptorList, A::Error> {
        let mut descriptors = Vec::new();
        while descriptors.len() < MANIFEST_DESCRIPTORS_MAX {
            match sequence.next_element::<Object<WireDescriptor>>()? {
                Some(Object(descriptor)) => descriptors.push(descriptor),
                None => {
                    return Ok(DescriptorList {
                        descriptors,
                        overflowed: false,
                    });
                }
            }
        }
        // Bounded by the body's length, which parse_manifest capped.
        let mut overflowed = false;
        while sequence.next_element::<IgnoredAny>()?.is_some() {
            overflowed = true;
        }
        Ok(DescriptorList {
            descriptors,
            overflowed,
        })
    }
}

/// A struct that must be a JSON object: derived `Deserialize` alone also takes an array.
pub(super) struct Object<T>(pub(super) T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(MapOnly(deserializer)).map(Object)
    }
}

/// Hands a derived struct visitor to `deserialize_map`, which refuses arrays, instead of
/// `deserialize_struct`, which takes both.
pub(super) struct MapOnly<D>(pub(super) D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for MapOnly<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

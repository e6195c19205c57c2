//! Low-level MessagePack for the host: a dynamic [`Value`], a strict decoder with limits, a
//! compact encoder, and [`skip`] (the byte length of one object) used to slice values out of
//! engine responses byte for byte.
//!
//! Typed values go through `rmp-serde` (see `Client::set` / `Client::get`); [`Value`] also
//! implements `Serialize` / `Deserialize`, so it works on that path too (bin as bytes, ext via
//! rmp-serde's `_ExtStruct` convention).

use std::fmt;

/// Nesting limit for decoding and skipping (the engine refuses deeper values as well).
pub const MAX_DEPTH: usize = 512;

/// A decoded MessagePack object.
#[derive(Debug, Clone)]
pub enum Value {
    Nil,
    Bool(bool),
    /// Every integer family (fixint, uint 8..64, int 8..64): -2^63 ..= 2^64-1.
    Int(i128),
    F32(f32),
    F64(f64),
    /// str (must be valid UTF-8 for this host).
    Str(String),
    Bin(Vec<u8>),
    Array(Vec<Value>),
    /// Pairs in wire order (duplicates kept).
    Map(Vec<(Value, Value)>),
    Ext(i8, Vec<u8>),
}

/// Structural equality: floats compare by bits (so NaN equals itself and 0.0 differs from
/// -0.0), maps compare as unordered sets of pairs, an F32 never equals an F64 and ints never
/// equal floats.
impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        use Value::*;
        match (self, other) {
            (Nil, Nil) => true,
            (Bool(a), Bool(b)) => a == b,
            (Int(a), Int(b)) => a == b,
            (F32(a), F32(b)) => a.to_bits() == b.to_bits(),
            (F64(a), F64(b)) => a.to_bits() == b.to_bits(),
            (Str(a), Str(b)) => a == b,
            (Bin(a), Bin(b)) => a == b,
            (Array(a), Array(b)) => a == b,
            (Ext(t, a), Ext(u, b)) => t == u && a == b,
            (Map(a), Map(b)) => {
                // Same order first (the common case, linear), else as unordered pairs.
                a.len() == b.len()
                    && (a == b
                        || a.iter()
                            .all(|(k, v)| b.iter().any(|(k2, v2)| k == k2 && v == v2)))
            }
            _ => false,
        }
    }
}

impl Value {
    /// Looks a str key up in a map value.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(pairs) => pairs.iter().find_map(|(k, v)| match k {
                Value::Str(s) if s == key => Some(v),
                _ => None,
            }),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Int(i) => u64::try_from(*i).ok(),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }
}

/// Why bytes are not (exactly one) valid MessagePack object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    Truncated,
    ReservedByte,
    TooDeep,
    TrailingBytes(usize),
    InvalidUtf8,
    NotAMap,
    NotAnArray,
    NonStrKey,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated => write!(f, "truncated MessagePack"),
            DecodeError::ReservedByte => write!(f, "reserved byte 0xc1"),
            DecodeError::TooDeep => write!(f, "nesting deeper than {MAX_DEPTH}"),
            DecodeError::TrailingBytes(n) => write!(f, "{n} bytes after the object"),
            DecodeError::InvalidUtf8 => write!(f, "str is not valid UTF-8"),
            DecodeError::NotAMap => write!(f, "not a map"),
            DecodeError::NotAnArray => write!(f, "not an array"),
            DecodeError::NonStrKey => write!(f, "map key is not a str"),
        }
    }
}

impl std::error::Error for DecodeError {}

// ---------------------------------------------------------------------------------- skip

/// What one object's header says: a scalar of `len` total bytes, or a container whose header
/// is `hlen` bytes long followed by `items` objects.
enum Head {
    Scalar(usize),
    Container(usize, usize),
}

fn be(buf: &[u8], at: usize, n: usize) -> Result<usize, DecodeError> {
    let b = buf.get(at..at + n).ok_or(DecodeError::Truncated)?;
    Ok(b.iter().fold(0usize, |acc, x| (acc << 8) | *x as usize))
}

fn head(buf: &[u8], pos: usize) -> Result<Head, DecodeError> {
    let b = *buf.get(pos).ok_or(DecodeError::Truncated)?;
    Ok(match b {
        0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => Head::Scalar(1),
        0xa0..=0xbf => Head::Scalar(1 + (b & 0x1f) as usize),
        0x90..=0x9f => Head::Container(1, (b & 0x0f) as usize),
        0x80..=0x8f => Head::Container(1, 2 * (b & 0x0f) as usize),
        0xc1 => return Err(DecodeError::ReservedByte),
        0xcc | 0xd0 => Head::Scalar(2),
        0xcd | 0xd1 => Head::Scalar(3),
        0xce | 0xd2 | 0xca => Head::Scalar(5),
        0xcf | 0xd3 | 0xcb => Head::Scalar(9),
        0xd4 => Head::Scalar(3),
        0xd5 => Head::Scalar(4),
        0xd6 => Head::Scalar(6),
        0xd7 => Head::Scalar(10),
        0xd8 => Head::Scalar(18),
        0xd9 | 0xc4 => Head::Scalar(2 + be(buf, pos + 1, 1)?),
        0xda | 0xc5 => Head::Scalar(3 + be(buf, pos + 1, 2)?),
        0xdb | 0xc6 => Head::Scalar(5 + be(buf, pos + 1, 4)?),
        0xc7 => Head::Scalar(3 + be(buf, pos + 1, 1)?),
        0xc8 => Head::Scalar(4 + be(buf, pos + 1, 2)?),
        0xc9 => Head::Scalar(6 + be(buf, pos + 1, 4)?),
        0xdc => Head::Container(3, be(buf, pos + 1, 2)?),
        0xdd => Head::Container(5, be(buf, pos + 1, 4)?),
        0xde => Head::Container(3, 2 * be(buf, pos + 1, 2)?),
        0xdf => Head::Container(5, 2 * be(buf, pos + 1, 4)?),
    })
}

/// The byte length of the first object in `buf` (iterative; no allocation per level beyond a
/// small stack of counts).
pub fn skip(buf: &[u8]) -> Result<usize, DecodeError> {
    let mut pos = 0usize;
    let mut left = 1usize; // objects still to skip at the current level
    let mut stack: Vec<usize> = Vec::new();
    loop {
        while left == 0 {
            match stack.pop() {
                None => return Ok(pos),
                Some(outer) => left = outer,
            }
        }
        match head(buf, pos)? {
            Head::Scalar(len) => {
                if pos + len > buf.len() {
                    return Err(DecodeError::Truncated);
                }
                pos += len;
                left -= 1;
            }
            Head::Container(hlen, items) => {
                if stack.len() + 1 > MAX_DEPTH {
                    return Err(DecodeError::TooDeep);
                }
                if pos + hlen + items > buf.len() {
                    return Err(DecodeError::Truncated);
                }
                pos += hlen;
                stack.push(left - 1);
                left = items;
            }
        }
    }
}

/// Splits one encoded array into the raw bytes of each element.
pub fn split_array(buf: &[u8]) -> Result<Vec<&[u8]>, DecodeError> {
    let (hlen, n) = match head(buf, 0)? {
        Head::Container(h, n)
            if (0x90..=0x9f).contains(&buf[0]) || buf[0] == 0xdc || buf[0] == 0xdd =>
        {
            (h, n)
        }
        _ => return Err(DecodeError::NotAnArray),
    };
    let mut pos = hlen;
    let mut out = Vec::with_capacity(n.min(buf.len()));
    for _ in 0..n {
        let len = skip(&buf[pos..])?;
        out.push(&buf[pos..pos + len]);
        pos += len;
    }
    if pos != buf.len() {
        return Err(DecodeError::TrailingBytes(buf.len() - pos));
    }
    Ok(out)
}

/// Parses a map with str keys, leaving each value undecoded: `(key, byte range of the value)`.
pub fn map_spans(buf: &[u8]) -> Result<Vec<(String, std::ops::Range<usize>)>, DecodeError> {
    let (hlen, items) = match head(buf, 0)? {
        Head::Container(h, n)
            if (0x80..=0x8f).contains(&buf[0]) || buf[0] == 0xde || buf[0] == 0xdf =>
        {
            (h, n)
        }
        _ => return Err(DecodeError::NotAMap),
    };
    let mut pos = hlen;
    let mut out = Vec::with_capacity(items / 2);
    for _ in 0..items / 2 {
        let klen = skip(&buf[pos..])?;
        let key = match decode(&buf[pos..pos + klen])? {
            Value::Str(s) => s,
            _ => return Err(DecodeError::NonStrKey),
        };
        pos += klen;
        let vlen = skip(&buf[pos..])?;
        out.push((key, pos..pos + vlen));
        pos += vlen;
    }
    if pos != buf.len() {
        return Err(DecodeError::TrailingBytes(buf.len() - pos));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------- decode

/// Decodes `buf`, which must hold exactly one object.
pub fn decode(buf: &[u8]) -> Result<Value, DecodeError> {
    let (v, used) = decode_one(buf)?;
    if used != buf.len() {
        return Err(DecodeError::TrailingBytes(buf.len() - used));
    }
    Ok(v)
}

/// Decodes the first object of `buf`; returns it and the bytes it used.
pub fn decode_one(buf: &[u8]) -> Result<(Value, usize), DecodeError> {
    // Validate sizes and depth without recursion first, so the recursive builder below can
    // neither overflow the stack nor allocate beyond the input.
    let len = skip(buf)?;
    let mut pos = 0;
    let v = build(&buf[..len], &mut pos)?;
    Ok((v, pos))
}

fn take<'a>(buf: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], DecodeError> {
    let s = buf.get(*pos..*pos + n).ok_or(DecodeError::Truncated)?;
    *pos += n;
    Ok(s)
}

fn uint(buf: &[u8], pos: &mut usize, n: usize) -> Result<u64, DecodeError> {
    Ok(take(buf, pos, n)?
        .iter()
        .fold(0u64, |a, x| (a << 8) | *x as u64))
}

fn build(buf: &[u8], pos: &mut usize) -> Result<Value, DecodeError> {
    let b = take(buf, pos, 1)?[0];
    let str_of = |bytes: &[u8]| {
        String::from_utf8(bytes.to_vec())
            .map(Value::Str)
            .map_err(|_| DecodeError::InvalidUtf8)
    };
    Ok(match b {
        0x00..=0x7f => Value::Int(b as i128),
        0xe0..=0xff => Value::Int(b as i8 as i128),
        0xc0 => Value::Nil,
        0xc2 => Value::Bool(false),
        0xc3 => Value::Bool(true),
        0xc1 => return Err(DecodeError::ReservedByte),
        0xcc => Value::Int(uint(buf, pos, 1)? as i128),
        0xcd => Value::Int(uint(buf, pos, 2)? as i128),
        0xce => Value::Int(uint(buf, pos, 4)? as i128),
        0xcf => Value::Int(uint(buf, pos, 8)? as i128),
        0xd0 => Value::Int(uint(buf, pos, 1)? as u8 as i8 as i128),
        0xd1 => Value::Int(uint(buf, pos, 2)? as u16 as i16 as i128),
        0xd2 => Value::Int(uint(buf, pos, 4)? as u32 as i32 as i128),
        0xd3 => Value::Int(uint(buf, pos, 8)? as i64 as i128),
        0xca => Value::F32(f32::from_bits(uint(buf, pos, 4)? as u32)),
        0xcb => Value::F64(f64::from_bits(uint(buf, pos, 8)?)),
        0xa0..=0xbf => str_of(take(buf, pos, (b & 0x1f) as usize)?)?,
        0xd9 | 0xda | 0xdb => {
            let n = uint(buf, pos, 1 << (b - 0xd9))? as usize;
            str_of(take(buf, pos, n)?)?
        }
        0xc4 | 0xc5 | 0xc6 => {
            let n = uint(buf, pos, 1 << (b - 0xc4))? as usize;
            Value::Bin(take(buf, pos, n)?.to_vec())
        }
        0xd4..=0xd8 => {
            let t = take(buf, pos, 1)?[0] as i8;
            Value::Ext(t, take(buf, pos, 1 << (b - 0xd4))?.to_vec())
        }
        0xc7 | 0xc8 | 0xc9 => {
            let n = uint(buf, pos, 1 << (b - 0xc7))? as usize;
            let t = take(buf, pos, 1)?[0] as i8;
            Value::Ext(t, take(buf, pos, n)?.to_vec())
        }
        0x90..=0x9f | 0xdc | 0xdd => {
            let n = match b {
                0xdc => uint(buf, pos, 2)? as usize,
                0xdd => uint(buf, pos, 4)? as usize,
                _ => (b & 0x0f) as usize,
            };
            let mut items = Vec::with_capacity(n.min(buf.len()));
            for _ in 0..n {
                items.push(build(buf, pos)?);
            }
            Value::Array(items)
        }
        0x80..=0x8f | 0xde | 0xdf => {
            let n = match b {
                0xde => uint(buf, pos, 2)? as usize,
                0xdf => uint(buf, pos, 4)? as usize,
                _ => (b & 0x0f) as usize,
            };
            let mut pairs = Vec::with_capacity(n.min(buf.len()));
            for _ in 0..n {
                let k = build(buf, pos)?;
                let v = build(buf, pos)?;
                pairs.push((k, v));
            }
            Value::Map(pairs)
        }
    })
}

// ---------------------------------------------------------------------------------- encode

/// Encodes `v` compactly (smallest header for every length and integer).
pub fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(v, &mut out);
    out
}

pub fn encode_into(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Nil => out.push(0xc0),
        Value::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Int(i) => write_int(out, *i),
        Value::F32(f) => {
            out.push(0xca);
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        Value::F64(f) => {
            out.push(0xcb);
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        Value::Str(s) => write_str(out, s),
        Value::Bin(b) => write_bin(out, b),
        Value::Array(items) => {
            write_array_len(out, items.len());
            for x in items {
                encode_into(x, out);
            }
        }
        Value::Map(pairs) => {
            write_map_len(out, pairs.len());
            for (k, x) in pairs {
                encode_into(k, out);
                encode_into(x, out);
            }
        }
        Value::Ext(t, d) => {
            let n = d.len();
            match n {
                1 => out.push(0xd4),
                2 => out.push(0xd5),
                4 => out.push(0xd6),
                8 => out.push(0xd7),
                16 => out.push(0xd8),
                _ if n <= 0xff => out.extend_from_slice(&[0xc7, n as u8]),
                _ if n <= 0xffff => {
                    out.push(0xc8);
                    out.extend_from_slice(&(n as u16).to_be_bytes());
                }
                _ => {
                    out.push(0xc9);
                    out.extend_from_slice(&(n as u32).to_be_bytes());
                }
            }
            out.push(*t as u8);
            out.extend_from_slice(d);
        }
    }
}

/// Writes an integer in its smallest form. Panics outside -2^63 ..= 2^64-1.
pub fn write_int(out: &mut Vec<u8>, i: i128) {
    if i >= 0 {
        let u = u64::try_from(i).expect("integer above 2^64-1");
        match u {
            0..=0x7f => out.push(u as u8),
            0x80..=0xff => out.extend_from_slice(&[0xcc, u as u8]),
            0x100..=0xffff => {
                out.push(0xcd);
                out.extend_from_slice(&(u as u16).to_be_bytes())
            }
            0x1_0000..=0xffff_ffff => {
                out.push(0xce);
                out.extend_from_slice(&(u as u32).to_be_bytes())
            }
            _ => {
                out.push(0xcf);
                out.extend_from_slice(&u.to_be_bytes())
            }
        }
    } else {
        let s = i64::try_from(i).expect("integer below -2^63");
        if s >= -32 {
            out.push(s as i8 as u8);
        } else if s >= i8::MIN as i64 {
            out.extend_from_slice(&[0xd0, s as i8 as u8]);
        } else if s >= i16::MIN as i64 {
            out.push(0xd1);
            out.extend_from_slice(&(s as i16).to_be_bytes());
        } else if s >= i32::MIN as i64 {
            out.push(0xd2);
            out.extend_from_slice(&(s as i32).to_be_bytes());
        } else {
            out.push(0xd3);
            out.extend_from_slice(&s.to_be_bytes());
        }
    }
}

pub fn write_str(out: &mut Vec<u8>, s: &str) {
    write_str_bytes(out, s.as_bytes())
}

/// Writes a str header and `b` as is (the bytes need not be UTF-8: used to send invalid keys).
pub fn write_str_bytes(out: &mut Vec<u8>, b: &[u8]) {
    let n = b.len();
    if n <= 31 {
        out.push(0xa0 | n as u8);
    } else if n <= 0xff {
        out.extend_from_slice(&[0xd9, n as u8]);
    } else if n <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(b);
}

pub fn write_bin(out: &mut Vec<u8>, b: &[u8]) {
    let n = b.len();
    if n <= 0xff {
        out.extend_from_slice(&[0xc4, n as u8]);
    } else if n <= 0xffff {
        out.push(0xc5);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xc6);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(b);
}

pub fn write_array_len(out: &mut Vec<u8>, n: usize) {
    if n <= 15 {
        out.push(0x90 | n as u8);
    } else if n <= 0xffff {
        out.push(0xdc);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdd);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

pub fn write_map_len(out: &mut Vec<u8>, n: usize) {
    if n <= 15 {
        out.push(0x80 | n as u8);
    } else if n <= 0xffff {
        out.push(0xde);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdf);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

// ---------------------------------------------------------------------------------- serde

struct BytesRef<'a>(&'a [u8]);

impl serde::Serialize for BytesRef<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Value::Nil => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) if *i >= 0 => s.serialize_u64(*i as u64),
            Value::Int(i) => s.serialize_i64(*i as i64),
            Value::F32(f) => s.serialize_f32(*f),
            Value::F64(f) => s.serialize_f64(*f),
            Value::Str(x) => s.serialize_str(x),
            Value::Bin(b) => s.serialize_bytes(b),
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for x in items {
                    seq.serialize_element(x)?;
                }
                seq.end()
            }
            Value::Map(pairs) => {
                let mut m = s.serialize_map(Some(pairs.len()))?;
                for (k, v) in pairs {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
            Value::Ext(t, d) => s.serialize_newtype_struct("_ExtStruct", &(*t, BytesRef(d))),
        }
    }
}

struct ValueVisitor;

impl<'de> serde::de::Visitor<'de> for ValueVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any MessagePack value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        serde::Deserialize::deserialize(d)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i as i128))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(Value::Int(u as i128))
    }
    fn visit_f32<E>(self, f: f32) -> Result<Value, E> {
        Ok(Value::F32(f))
    }
    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::F64(f))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Str(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::Str(s))
    }
    fn visit_bytes<E>(self, b: &[u8]) -> Result<Value, E> {
        Ok(Value::Bin(b.to_vec()))
    }
    fn visit_byte_buf<E>(self, b: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bin(b))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(x) = seq.next_element()? {
            items.push(x);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut pairs = Vec::new();
        while let Some((k, v)) = map.next_entry()? {
            pairs.push((k, v));
        }
        Ok(Value::Map(pairs))
    }
    /// rmp-serde hands ext values over as a newtype struct holding the sequence (tag, bytes).
    fn visit_newtype_struct<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        struct ExtVisitor;
        impl<'de> serde::de::Visitor<'de> for ExtVisitor {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an ext (tag, data)")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Value, A::Error> {
                use serde::de::Error;
                let tag: i8 = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::custom("ext tag"))?;
                let data: Value = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::custom("ext data"))?;
                match data {
                    Value::Bin(b) => Ok(Value::Ext(tag, b)),
                    _ => Err(A::Error::custom("ext data is not bytes")),
                }
            }
        }
        d.deserialize_any(ExtVisitor)
    }
}

impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

/// Lowercase hex of bytes.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Bytes of a hex string (either case); `None` when malformed.
pub fn unhex(h: &str) -> Option<Vec<u8>> {
    let h: Vec<u8> = h.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    if h.len() % 2 != 0 {
        return None;
    }
    h.chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
        .collect()
}

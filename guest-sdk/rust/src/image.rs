//! The process image: the descriptor of `docs/guest-abi.md`, built at
//! compile time by [`process_image!`](crate::process_image), and safe access
//! to the three areas.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

/// Area codes of the descriptor's signal table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Area {
    /// 0: host → program, copied in before each poll.
    Input = 0,
    /// 1: program → host, published after each poll that succeeded.
    Output = 1,
    /// 2: survives reset and reload (hot swap).
    Retain = 2,
}

/// Type codes of the descriptor's signal table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
#[allow(missing_docs)]
pub enum SignalType {
    Bool = 0,
    I8 = 1,
    U8 = 2,
    I16 = 3,
    U16 = 4,
    I32 = 5,
    U32 = 6,
    I64 = 7,
    U64 = 8,
    F32 = 9,
    F64 = 10,
}

/// A Rust type that can be a signal: `bool`, `i8`…`u64`, `f32`, `f64`.
///
/// # Safety
/// `TYPE` must describe the type's size and representation exactly, and
/// `sanitize` must leave a valid value of the type behind whatever bytes it
/// finds (the host may write any bytes into the input area).
pub unsafe trait SignalValue: Copy + 'static {
    /// The descriptor's type code.
    const TYPE: SignalType;
    /// The value a field has when the declaration gives none.
    const ZERO: Self;
    /// Turns whatever bytes are at `place` into a valid value. A no-op for
    /// every type whose bit patterns are all valid.
    ///
    /// # Safety
    /// `place` must be valid for reads and writes of `size_of::<Self>()` bytes.
    #[inline(always)]
    unsafe fn sanitize(place: *mut Self) {
        let _ = place;
    }
}

macro_rules! signal_values {
    ($($t:ty => $code:ident = $zero:expr),* $(,)?) => {
        $(
            // SAFETY: every bit pattern is a valid value of these types.
            unsafe impl SignalValue for $t {
                const TYPE: SignalType = SignalType::$code;
                const ZERO: Self = $zero;
            }
        )*
    };
}

signal_values! {
    i8 => I8 = 0, u8 => U8 = 0, i16 => I16 = 0, u16 => U16 = 0,
    i32 => I32 = 0, u32 => U32 = 0, i64 => I64 = 0, u64 => U64 = 0,
    f32 => F32 = 0.0, f64 => F64 = 0.0,
}

// SAFETY: a bool is one byte, 0 or 1; `sanitize` maps every other byte to 1
// (the host's setters only write 0 or 1, raw byte writes may not).
unsafe impl SignalValue for bool {
    const TYPE: SignalType = SignalType::Bool;
    const ZERO: Self = false;

    #[inline(always)]
    unsafe fn sanitize(place: *mut Self) {
        let byte = place.cast::<u8>();
        // SAFETY: the caller gives a valid place; read as a byte, not a bool.
        unsafe { byte.write((byte.read() != 0) as u8) };
    }
}

/// The descriptor `wasmcell_image` returns (44 bytes on wasm32; all fields
/// little-endian u32, pointers being 32 bits there).
#[repr(C)]
#[derive(Debug)]
pub struct Descriptor {
    /// `b"WCIM"`.
    pub magic: [u8; 4],
    /// 1.
    pub version: u32,
    /// Input area.
    pub inputs: *const u8,
    /// Its length in bytes.
    pub inputs_len: u32,
    /// Output area.
    pub outputs: *const u8,
    /// Its length in bytes.
    pub outputs_len: u32,
    /// Retain area.
    pub retain: *const u8,
    /// Its length in bytes.
    pub retain_len: u32,
    /// Retain layout id: retain is carried over only to a version with the same id and size.
    pub retain_layout: u32,
    /// Signal table.
    pub signals: *const SignalEntry,
    /// Number of signals.
    pub signal_count: u32,
}

// SAFETY: the descriptor is immutable and only read (by the host).
unsafe impl Sync for Descriptor {}

/// One entry of the signal table (16 bytes on wasm32).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SignalEntry {
    /// Name (UTF-8, not NUL-terminated).
    pub name: *const u8,
    /// Its length, 1..=128.
    pub name_len: u32,
    /// [`Area`] code.
    pub area: u8,
    /// [`SignalType`] code.
    pub ty: u8,
    /// 0.
    pub reserved: u16,
    /// Byte offset inside its area.
    pub offset: u32,
}

// SAFETY: immutable, points at string literals.
unsafe impl Sync for SignalEntry {}

impl SignalEntry {
    /// A table entry.
    pub const fn new(name: &'static str, area: Area, ty: SignalType, offset: usize) -> Self {
        SignalEntry {
            name: name.as_ptr(),
            name_len: name.len() as u32,
            area: area as u8,
            ty: ty as u8,
            reserved: 0,
            offset: offset as u32,
        }
    }
}

#[cfg(target_arch = "wasm32")]
const _: () = {
    assert!(core::mem::size_of::<Descriptor>() == 44);
    assert!(core::mem::size_of::<SignalEntry>() == 16);
};

/// The three areas of a program's process image, in static memory. Made by
/// [`process_image!`](crate::process_image); reached only through
/// [`with_image`].
pub struct Storage<I, O, R> {
    #[doc(hidden)]
    pub inputs: UnsafeCell<I>,
    #[doc(hidden)]
    pub outputs: UnsafeCell<O>,
    #[doc(hidden)]
    pub retain: UnsafeCell<R>,
    borrowed: AtomicBool,
}

// SAFETY: the areas are reached only through `with_image`, which hands out
// one set of references at a time (the `borrowed` flag); the host writes them
// only while no guest code runs.
unsafe impl<I, O, R> Sync for Storage<I, O, R> {}

impl<I, O, R> Storage<I, O, R> {
    /// Storage with these initial values.
    pub const fn new(inputs: I, outputs: O, retain: R) -> Self {
        Storage {
            inputs: UnsafeCell::new(inputs),
            outputs: UnsafeCell::new(outputs),
            retain: UnsafeCell::new(retain),
            borrowed: AtomicBool::new(false),
        }
    }
}

/// A process image declared with [`process_image!`](crate::process_image).
/// The macro implements it for a hidden marker type; `Io<'_>`, the alias
/// the macro defines, is `ProcessIo<'_, ThatMarker>`.
///
/// # Safety
/// `storage` must always return the same storage, which nothing else
/// touches, and `sanitize` must make every field valid whatever its bytes.
pub unsafe trait ProcessImage: 'static {
    /// The input struct.
    type Inputs: 'static;
    /// The output struct.
    type Outputs: 'static;
    /// The retain struct.
    type Retain: 'static;
    /// The storage of the three areas.
    fn storage() -> &'static Storage<Self::Inputs, Self::Outputs, Self::Retain>;
    /// Makes every field valid (see [`SignalValue::sanitize`]).
    ///
    /// # Safety
    /// No reference into the storage may be alive.
    unsafe fn sanitize(storage: &Storage<Self::Inputs, Self::Outputs, Self::Retain>);
}

/// The process image during one `poll` or `init`: inputs to read, outputs
/// and retained state to write. What the program's entry points receive.
pub struct ProcessIo<'a, P: ProcessImage> {
    /// The inputs the host wrote, copied in before this poll.
    pub inputs: &'a P::Inputs,
    /// The outputs: published after this poll if it succeeds (a poll that
    /// faults publishes nothing; the host keeps the previous outputs).
    pub outputs: &'a mut P::Outputs,
    /// Retained state: carried over on reset and reload when the layout id
    /// and size match (see [`retain_restored`](crate::retain_restored)).
    pub retain: &'a mut P::Retain,
}

/// Runs `f` with the process image. The entry points of
/// [`program!`](crate::program) call it for you; call it yourself only from
/// entry points you export by hand.
///
/// # Panics
/// When called while the image is already borrowed (from inside `f`, or
/// from inside a poll the SDK dispatched).
pub fn with_image<P: ProcessImage, T>(f: impl FnOnce(ProcessIo<'_, P>) -> T) -> T {
    let storage = P::storage();
    if storage.borrowed.swap(true, Ordering::Acquire) {
        panic!("the process image is already borrowed (with_image called inside poll or init)");
    }
    // SAFETY: the flag guarantees no other reference into the storage is
    // alive; the host does not touch guest memory while guest code runs.
    let io = unsafe {
        P::sanitize(storage);
        ProcessIo {
            inputs: &*storage.inputs.get(),
            outputs: &mut *storage.outputs.get(),
            retain: &mut *storage.retain.get(),
        }
    };
    let result = f(io);
    storage.borrowed.store(false, Ordering::Release);
    result
}

/// Retain layout id computed from the retain struct: its size and each
/// field's name, type and offset (FNV-1a, never 0). Any change of these
/// gives another id, so retained state is never carried into a layout it
/// does not fit.
#[doc(hidden)]
pub const fn layout_id(fields: &[(&str, SignalType, usize)], size: usize) -> u32 {
    const PRIME: u32 = 0x0100_0193;
    let mut hash: u32 = 0x811c_9dc5;
    hash = mix(hash, size as u32);
    let mut i = 0;
    while i < fields.len() {
        let (name, ty, offset) = fields[i];
        let bytes = name.as_bytes();
        let mut j = 0;
        while j < bytes.len() {
            hash = (hash ^ bytes[j] as u32).wrapping_mul(PRIME);
            j += 1;
        }
        hash = (hash ^ 0xff).wrapping_mul(PRIME);
        hash = mix(hash, ty as u32);
        hash = mix(hash, offset as u32);
        i += 1;
    }
    if hash == 0 {
        1
    } else {
        hash
    }
}

const fn mix(mut hash: u32, value: u32) -> u32 {
    let bytes = value.to_le_bytes();
    let mut i = 0;
    while i < 4 {
        hash = (hash ^ bytes[i] as u32).wrapping_mul(0x0100_0193);
        i += 1;
    }
    hash
}

/// Compile-time checks of a signal table: names 1..=128 bytes, unique across
/// the three areas, at most 4096 signals (what the host accepts).
#[doc(hidden)]
pub const fn check_names(names: &[&str]) {
    assert!(names.len() <= 4096, "process_image!: at most 4096 signals");
    let mut i = 0;
    while i < names.len() {
        assert!(
            !names[i].is_empty() && names[i].len() <= 128,
            "process_image!: signal names are 1 to 128 bytes"
        );
        let mut j = i + 1;
        while j < names.len() {
            assert!(
                !str_eq(names[i], names[j]),
                "process_image!: two signals have the same name (names are unique across inputs, outputs and retain)"
            );
            j += 1;
        }
        i += 1;
    }
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Declares the program's process image **once**: the input, output and
/// retain structs (`#[repr(C)]`, every field a signal named after it), the
/// descriptor with its signal table (names, areas, type codes, offsets from
/// `core::mem::offset_of!`), the `wasmcell_image` export, and `Io<'a>`, the
/// view of the image that [`program!`](crate::program) entry points receive.
///
/// ```ignore
/// wasmcell_guest::process_image! {
///     inputs: struct Inputs {
///         /// Commanded speed, m/s.
///         speed: f64,
///         enable: bool,
///     }
///     outputs: struct Outputs {
///         motor_on: bool,
///         position: f64,
///         pulses: u32,
///     }
///     // Optional. `retain(layout = N)` sets the retain layout id; plain
///     // `retain:` computes it from the fields (names, types, offsets).
///     retain(layout = 1): struct Retain {
///         distance: f64,
///         gain: f64 = 1.0, // initial value (default: zero / false)
///     }
/// }
/// ```
///
/// - Field types: `bool`, `i8`, `u8`, `i16`, `u16`, `i32`, `u32`, `i64`,
///   `u64`, `f32`, `f64` (anything else does not compile: the
///   [`SignalValue`] trait is not implemented for it).
/// - Signal names must be unique across the three areas (checked at
///   compile time; the host refuses duplicates).
/// - The structs are `pub`, derive `Clone, Copy, Debug, PartialEq`, and have
///   a `DEFAULT` constant with the declared initial values; the image starts
///   with them at every cold load (retain is then overwritten by the host
///   when it carries retained state over).
/// - A `bool` input holding a byte other than 0 or 1 (raw byte writes by
///   the host) reads as `true`.
/// - Call it once per program, at the crate root.
#[macro_export]
macro_rules! process_image {
    (
        inputs: $(#[$iattr:meta])* $ivis:vis struct $I:ident { $($ibody:tt)* } $(,)?
        outputs: $(#[$oattr:meta])* $ovis:vis struct $O:ident { $($obody:tt)* } $(,)?
        retain (layout = $lid:expr) : $(#[$rattr:meta])* $rvis:vis struct $R:ident { $($rbody:tt)* } $(,)?
    ) => {
        $crate::process_image! { @image
            [$(#[$iattr])*] $I [$($ibody)*]
            [$(#[$oattr])*] $O [$($obody)*]
            [$(#[$rattr])*] $R [$($rbody)*]
            layout [$lid]
        }
    };
    (
        inputs: $(#[$iattr:meta])* $ivis:vis struct $I:ident { $($ibody:tt)* } $(,)?
        outputs: $(#[$oattr:meta])* $ovis:vis struct $O:ident { $($obody:tt)* } $(,)?
        retain : $(#[$rattr:meta])* $rvis:vis struct $R:ident { $($rbody:tt)* } $(,)?
    ) => {
        $crate::process_image! { @image
            [$(#[$iattr])*] $I [$($ibody)*]
            [$(#[$oattr])*] $O [$($obody)*]
            [$(#[$rattr])*] $R [$($rbody)*]
            layout []
        }
    };
    (
        inputs: $(#[$iattr:meta])* $ivis:vis struct $I:ident { $($ibody:tt)* } $(,)?
        outputs: $(#[$oattr:meta])* $ovis:vis struct $O:ident { $($obody:tt)* } $(,)?
    ) => {
        $crate::process_image! { @image
            [$(#[$iattr])*] $I [$($ibody)*]
            [$(#[$oattr])*] $O [$($obody)*]
            [#[doc = "No retain area (zero bytes)."]] NoRetain []
            layout [0]
        }
    };
    (@image
        [$(#[$iattr:meta])*] $I:ident
            [$( $(#[$ifa:meta])* $ifv:vis $if:ident : $it:ty $(= $ii:expr)? ),* $(,)?]
        [$(#[$oattr:meta])*] $O:ident
            [$( $(#[$ofa:meta])* $ofv:vis $of:ident : $ot:ty $(= $oi:expr)? ),* $(,)?]
        [$(#[$rattr:meta])*] $R:ident
            [$( $(#[$rfa:meta])* $rfv:vis $rf:ident : $rt:ty $(= $ri:expr)? ),* $(,)?]
        layout [$($lid:expr)?]
    ) => {
        $crate::__wasmcell_area_struct! { [$(#[$iattr])*] $I [$( [$(#[$ifa])*] $if : $it $(= $ii)? ),*] }
        $crate::__wasmcell_area_struct! { [$(#[$oattr])*] $O [$( [$(#[$ofa])*] $of : $ot $(= $oi)? ),*] }
        $crate::__wasmcell_area_struct! { [$(#[$rattr])*] $R [$( [$(#[$rfa])*] $rf : $rt $(= $ri)? ),*] }

        /// The process image during one poll or init: `io.inputs`,
        /// `io.outputs`, `io.retain` (declared by `process_image!`).
        pub type Io<'a> = $crate::ProcessIo<'a, __WasmcellImage>;

        #[doc(hidden)]
        pub enum __WasmcellImage {}

        #[doc(hidden)]
        static __WASMCELL_STORAGE: $crate::__private::Storage<$I, $O, $R> =
            $crate::__private::Storage::new($I::DEFAULT, $O::DEFAULT, $R::DEFAULT);

        // SAFETY: the storage is this hidden static, reached only through
        // `with_image`; `sanitize` fixes every bool field.
        unsafe impl $crate::ProcessImage for __WasmcellImage {
            type Inputs = $I;
            type Outputs = $O;
            type Retain = $R;
            #[inline(always)]
            fn storage() -> &'static $crate::__private::Storage<$I, $O, $R> {
                &__WASMCELL_STORAGE
            }
            #[inline(always)]
            unsafe fn sanitize(storage: &$crate::__private::Storage<$I, $O, $R>) {
                let _ = storage;
                // SAFETY: the places are fields of live statics; no reference is alive.
                unsafe {
                    $( <$it as $crate::SignalValue>::sanitize(::core::ptr::addr_of_mut!((*storage.inputs.get()).$if)); )*
                    $( <$ot as $crate::SignalValue>::sanitize(::core::ptr::addr_of_mut!((*storage.outputs.get()).$of)); )*
                    $( <$rt as $crate::SignalValue>::sanitize(::core::ptr::addr_of_mut!((*storage.retain.get()).$rf)); )*
                }
            }
        }

        const _: () = $crate::__private::check_names(&[
            $(::core::stringify!($if),)* $(::core::stringify!($of),)* $(::core::stringify!($rf),)*
        ]);

        #[doc(hidden)]
        const __WASMCELL_SIGNALS: &[$crate::__private::SignalEntry] = &[
            $( $crate::__private::SignalEntry::new(::core::stringify!($if), $crate::Area::Input,
                <$it as $crate::SignalValue>::TYPE, ::core::mem::offset_of!($I, $if)), )*
            $( $crate::__private::SignalEntry::new(::core::stringify!($of), $crate::Area::Output,
                <$ot as $crate::SignalValue>::TYPE, ::core::mem::offset_of!($O, $of)), )*
            $( $crate::__private::SignalEntry::new(::core::stringify!($rf), $crate::Area::Retain,
                <$rt as $crate::SignalValue>::TYPE, ::core::mem::offset_of!($R, $rf)), )*
        ];

        #[doc(hidden)]
        static __WASMCELL_DESCRIPTOR: $crate::__private::Descriptor = $crate::__private::Descriptor {
            magic: *b"WCIM",
            version: 1,
            inputs: ::core::ptr::addr_of!(__WASMCELL_STORAGE.inputs).cast::<u8>(),
            inputs_len: ::core::mem::size_of::<$I>() as u32,
            outputs: ::core::ptr::addr_of!(__WASMCELL_STORAGE.outputs).cast::<u8>(),
            outputs_len: ::core::mem::size_of::<$O>() as u32,
            retain: ::core::ptr::addr_of!(__WASMCELL_STORAGE.retain).cast::<u8>(),
            retain_len: ::core::mem::size_of::<$R>() as u32,
            retain_layout: $crate::__wasmcell_pick!(
                [$($lid)?]
                $crate::__private::layout_id(
                    &[$( (::core::stringify!($rf), <$rt as $crate::SignalValue>::TYPE,
                          ::core::mem::offset_of!($R, $rf)) ),*],
                    ::core::mem::size_of::<$R>(),
                )
            ),
            signals: __WASMCELL_SIGNALS.as_ptr(),
            signal_count: __WASMCELL_SIGNALS.len() as u32,
        };

        /// `wasmcell_image`: the address of the process image descriptor.
        #[doc(hidden)]
        #[cfg_attr(target_arch = "wasm32", export_name = "wasmcell_image")]
        pub extern "C" fn __wasmcell_image() -> *const $crate::__private::Descriptor {
            &__WASMCELL_DESCRIPTOR
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __wasmcell_area_struct {
    ([$(#[$attr:meta])*] $S:ident [$( [$(#[$fa:meta])*] $f:ident : $t:ty $(= $init:expr)? ),*]) => {
        $(#[$attr])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct $S {
            $( $(#[$fa])* pub $f: $t, )*
        }

        impl $S {
            /// The declared initial values (zero and `false` where none is given).
            pub const DEFAULT: Self = Self {
                $( $f: $crate::__wasmcell_pick!([$($init)?] <$t as $crate::SignalValue>::ZERO), )*
            };
        }

        impl ::core::default::Default for $S {
            fn default() -> Self {
                Self::DEFAULT
            }
        }
    };
}

/// `[given] fallback` → given if present, else fallback.
#[doc(hidden)]
#[macro_export]
macro_rules! __wasmcell_pick {
    ([] $fallback:expr) => {
        $fallback
    };
    ([$given:expr] $fallback:expr) => {
        $given
    };
}

//! Entry points (`poll`, `init`) and panics.

use core::fmt;
use core::marker::PhantomData;

use crate::image::{with_image, ProcessImage, ProcessIo};
use crate::text::{log_fmt, Level};

/// What an entry point may return.
///
/// - `()`: the cycle went fine.
/// - `Result<(), E>` with `E: Display`: `Err(e)` logs `poll failed: {e}` at
///   level error and reports a fault of the program's own: `poll` returns 1
///   (the host: `WASMCELL_ERR_GUEST_FAULT`, "poll returned fault code 1");
///   `init` traps (the load, reset or reload fails).
pub trait Outcome {
    /// 0 for success, non-zero for a fault of the program's own.
    fn code(self, entry: &str) -> i32;
}

impl Outcome for () {
    #[inline(always)]
    fn code(self, _: &str) -> i32 {
        0
    }
}

impl<E: fmt::Display> Outcome for Result<(), E> {
    fn code(self, entry: &str) -> i32 {
        match self {
            Ok(()) => 0,
            Err(error) => {
                log_fmt(Level::Error, format_args!("{entry} failed: {error}"));
                1
            }
        }
    }
}

#[doc(hidden)]
pub struct NoImage;
#[doc(hidden)]
pub struct WithImage<P>(PhantomData<P>);

/// A function `program!` can call: `fn()` or `fn(Io)` (with the image of
/// `process_image!`), returning an [`Outcome`].
#[doc(hidden)]
pub trait Entry<Marker> {
    fn run(self, entry: &str) -> i32;
}

impl<F, T> Entry<(NoImage, T)> for F
where
    F: FnOnce() -> T,
    T: Outcome,
{
    #[inline(always)]
    fn run(self, entry: &str) -> i32 {
        self().code(entry)
    }
}

impl<F, P, T> Entry<(WithImage<P>, T)> for F
where
    P: ProcessImage,
    F: for<'a> FnOnce(ProcessIo<'a, P>) -> T,
    T: Outcome,
{
    #[inline(always)]
    fn run(self, entry: &str) -> i32 {
        with_image::<P, T>(self).code(entry)
    }
}

#[doc(hidden)]
#[inline(always)]
pub fn run_poll<M, F: Entry<M>>(poll: F) -> i32 {
    before_entry();
    poll.run("poll")
}

#[doc(hidden)]
#[inline(always)]
pub fn run_init<M, F: Entry<M>>(init: F) {
    before_entry();
    if init.run("init") != 0 {
        trap();
    }
}

#[inline(always)]
fn before_entry() {
    #[cfg(feature = "std")]
    install_panic_hook();
}

/// Stops the program now: a trap (`unreachable`), which the host reports
/// as a fault of this program. Log why first (see [`error!`](crate::error)).
pub fn trap() -> ! {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    panic!("wasmcell_guest::trap()");
}

/// Declares the program's exports: `poll` (required) and `init` (optional),
/// each a plain function of yours.
///
/// ```ignore
/// wasmcell_guest::program! {
///     init: start,   // optional
///     poll: cycle,
/// }
///
/// fn start(io: Io) { /* ... */ }      // with process_image!: receives the image
/// fn cycle(io: Io) { /* ... */ }
/// // without process_image!: fn start() / fn cycle()
/// // either may return Result<(), E: Display> instead of ()
/// ```
///
/// - `poll` runs once per cycle; it is exported as `poll: () -> i32`
///   (0 on success; 1 when your function returned `Err`, after logging it).
/// - `init` runs after every instantiation (load, reset, reload), before
///   the first poll of that instance; tell them apart with
///   [`start_kind`](crate::start_kind) and
///   [`retain_restored`](crate::retain_restored). An `Err` from it makes the
///   load, reset or reload fail.
/// - With the `std` feature, the first entry installs a panic hook that logs
///   panics the way the no_std panic handler does.
/// - The exports exist on wasm32 only: on the build machine a symbol named
///   `poll` would replace the C library's `poll()`.
#[macro_export]
macro_rules! program {
    (init: $init:expr, poll: $poll:expr $(,)?) => {
        $crate::program! { poll: $poll }

        #[doc(hidden)]
        #[cfg_attr(target_arch = "wasm32", export_name = "init")]
        pub extern "C" fn __wasmcell_init() {
            $crate::__private::run_init($init)
        }
    };
    (poll: $poll:expr, init: $init:expr $(,)?) => {
        $crate::program! { init: $init, poll: $poll }
    };
    (poll: $poll:expr $(,)?) => {
        #[doc(hidden)]
        #[cfg_attr(target_arch = "wasm32", export_name = "poll")]
        pub extern "C" fn __wasmcell_poll() -> i32 {
            $crate::__private::run_poll($poll)
        }
    };
}

/// The panic report line: `panicked at FILE:LINE:COLUMN: MESSAGE` (used by
/// the panic handler or the std panic hook, whichever is compiled).
#[allow(dead_code)]
struct PanicLine<'a, M: fmt::Display>(Option<&'a core::panic::Location<'a>>, M);

impl<M: fmt::Display> fmt::Display for PanicLine<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(at) => write!(
                f,
                "panicked at {}:{}:{}: {}",
                at.file(),
                at.line(),
                at.column(),
                self.1
            ),
            None => write!(f, "panicked: {}", self.1),
        }
    }
}

#[cfg(all(
    feature = "panic-handler",
    not(feature = "std"),
    target_arch = "wasm32",
    not(test)
))]
#[panic_handler]
fn on_panic(info: &core::panic::PanicInfo<'_>) -> ! {
    use core::sync::atomic::{AtomicBool, Ordering};
    // A panic while reporting a panic (a Display impl that panics) traps at once.
    static PANICKING: AtomicBool = AtomicBool::new(false);
    if !PANICKING.swap(true, Ordering::Relaxed) {
        log_fmt(
            Level::Error,
            format_args!("{}", PanicLine(info.location(), info.message())),
        );
    }
    core::arch::wasm32::unreachable()
}

/// Installs a panic hook that logs panics through `wasmcell.log` (level
/// error), as `panicked at FILE:LINE:COLUMN: MESSAGE`. The entry points of
/// [`program!`](crate::program) call it; call it yourself from entry points
/// you export by hand. Only with the `std` feature.
#[cfg(feature = "std")]
pub fn install_panic_hook() {
    use std::sync::Once;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(std::boxed::Box::new(|info| {
            let payload = info.payload();
            let message: &str = if let Some(text) = payload.downcast_ref::<&str>() {
                text
            } else if let Some(text) = payload.downcast_ref::<std::string::String>() {
                text
            } else {
                "Box<dyn Any>"
            };
            log_fmt(
                Level::Error,
                format_args!("{}", PanicLine(info.location(), message)),
            );
        }));
    });
}

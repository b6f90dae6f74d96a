//! Every signal type, in every area: each poll copies each input to the
//! output of the same type, and adds it into retain. The SDK's tests use it
//! to check the declared image against what the host sees, field by field,
//! and that values land where the host puts them. An `in_i32` of -1 makes
//! poll return an error (a fault of the program's own).
//! Build: cargo build --release --target wasm32-unknown-unknown --example echo_types
#![no_std]

use wasmcell_guest::{process_image, program};

process_image! {
    inputs: struct Inputs {
        in_bool: bool,
        in_i8: i8,
        in_u8: u8,
        in_i16: i16,
        in_u16: u16,
        in_i32: i32,
        in_u32: u32,
        in_i64: i64,
        in_u64: u64,
        in_f32: f32,
        in_f64: f64,
    }
    outputs: struct Outputs {
        out_f64: f64,
        out_bool: bool,
        out_i8: i8,
        out_u8: u8,
        out_i16: i16,
        out_u16: u16,
        out_i32: i32,
        out_u32: u32,
        out_i64: i64,
        out_u64: u64,
        out_f32: f32,
        polls: u32,
    }
    retain: struct Retain {
        sum_i64: i64,
        sum_f64: f64,
        last_u8: u8 = 7,
    }
}

program! { poll: poll }

fn poll(io: Io) -> Result<(), &'static str> {
    if io.inputs.in_i32 == -1 {
        return Err("in_i32 is -1");
    }
    let (i, o) = (io.inputs, io.outputs);
    o.out_bool = i.in_bool;
    o.out_i8 = i.in_i8;
    o.out_u8 = i.in_u8;
    o.out_i16 = i.in_i16;
    o.out_u16 = i.in_u16;
    o.out_i32 = i.in_i32;
    o.out_u32 = i.in_u32;
    o.out_i64 = i.in_i64;
    o.out_u64 = i.in_u64;
    o.out_f32 = i.in_f32;
    o.out_f64 = i.in_f64;
    o.polls += 1;
    io.retain.sum_i64 = io.retain.sum_i64.wrapping_add(i.in_i64);
    io.retain.sum_f64 += i.in_f64;
    io.retain.last_u8 = i.in_u8;
    Ok(())
}

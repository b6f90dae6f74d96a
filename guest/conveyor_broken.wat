;; A broken version 3 of the conveyor (guest/conveyor_v2.wat plus one bug),
;; for examples-c/online-change.c: the shadow run must catch it before it
;; reaches the machine. It computes an encoder interval, 1000 / trunc(2 *
;; speed), as an integer division: any speed under 0.5 divides by zero and
;; traps. Above 0.5 its outputs are exactly those of v2.
;;   inputs  (16 bytes at 64):  speed f64 @0, enable bool @8
;;   outputs (24 bytes at 96):  motor_on bool @0, position f64 @8, pulses u32 @16
;;   retain  (16 bytes at 128): distance f64 @0, run_cycles u64 @8
;; A negative speed traps, as in v1 and v2.
(module
  (memory (export "memory") 1)
  (data (i32.const 0)
    "WCIM" "\01\00\00\00"
    "\40\00\00\00" "\10\00\00\00"    ;; inputs
    "\60\00\00\00" "\18\00\00\00"    ;; outputs
    "\80\00\00\00" "\10\00\00\00"    ;; retain
    "\02\00\00\00"                   ;; retain layout id
    "\00\01\00\00" "\07\00\00\00")   ;; 7 signals at 256
  (data (i32.const 256)
    ;; name address, name length, area, type, reserved, offset
    "\00\02\00\00" "\05\00\00\00" "\00" "\0a" "\00\00" "\00\00\00\00"   ;; speed      input  f64
    "\08\02\00\00" "\06\00\00\00" "\00" "\00" "\00\00" "\08\00\00\00"   ;; enable     input  bool
    "\10\02\00\00" "\08\00\00\00" "\01" "\00" "\00\00" "\00\00\00\00"   ;; motor_on   output bool
    "\18\02\00\00" "\08\00\00\00" "\01" "\0a" "\00\00" "\08\00\00\00"   ;; position   output f64
    "\20\02\00\00" "\06\00\00\00" "\01" "\06" "\00\00" "\10\00\00\00"   ;; pulses     output u32
    "\28\02\00\00" "\08\00\00\00" "\02" "\0a" "\00\00" "\00\00\00\00"   ;; distance   retain f64
    "\30\02\00\00" "\0a\00\00\00" "\02" "\08" "\00\00" "\08\00\00\00")  ;; run_cycles retain u64
  (data (i32.const 512) "speed\00\00\00" "enable\00\00" "motor_on" "position" "pulses\00\00" "distance" "run_cycles")
  (func (export "wasmcell_image") (result i32) (i32.const 0))
  (func (export "poll")
    (local $speed f64)
    (local.set $speed (f64.load (i32.const 64)))
    (if (f64.lt (local.get $speed) (f64.const 0))
      (then
        (i32.store8 (i32.const 96) (i32.const 1))
        (f64.store (i32.const 104) (f64.const -999))
        unreachable))
    ;; the speed limit
    (local.set $speed (f64.min (local.get $speed) (f64.const 2.0)))
    ;; the bug: encoder interval in ticks, kept for diagnostics at 1024
    (i32.store (i32.const 1024)
      (i32.div_u (i32.const 1000) (i32.trunc_f64_u (f64.mul (local.get $speed) (f64.const 2.0)))))
    (if (i32.load8_u (i32.const 72))
      (then
        (i32.store8 (i32.const 96) (i32.const 1))
        (f64.store (i32.const 104) (f64.add (f64.load (i32.const 104)) (local.get $speed)))
        (i32.store (i32.const 112) (i32.add (i32.load (i32.const 112)) (i32.const 1)))
        (f64.store (i32.const 128) (f64.add (f64.load (i32.const 128)) (local.get $speed)))
        (i64.store (i32.const 136) (i64.add (i64.load (i32.const 136)) (i64.const 1))))
      (else
        (i32.store8 (i32.const 96) (i32.const 0))))))

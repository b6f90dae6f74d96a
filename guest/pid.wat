;; The PID temperature controller of guest/rust/pid.rs and guest/c/pid.c,
;; in WAT: the same process image (signals, offsets, retain layout id 1) and
;; the same arithmetic in the same order, so the three give identical
;; outputs and the host can hot-swap between them with the integral kept.
;; The suite uses it where no guest toolchain is installed.
;;   inputs  (24 bytes at 64):  setpoint f64 @0, temperature f64 @8, enable bool @16
;;   outputs (24 bytes at 96):  heater f64 @0, error f64 @8, saturated bool @16
;;   retain  (24 bytes at 128): integral f64 @0, last_temperature f64 @8, primed bool @16
;; Each poll, with DT = 0.1 s, KP = 4, KI = 0.5, KD = 10:
;;   e = setpoint - temperature; slope = primed ? (temperature - last)/DT : 0
;;   i = integral + KI*e*DT; u = (KP*e + i) + (-KD)*slope
;;   integral = i unless (u > 100 and e > 0) or (u < 0 and e < 0)
;;   heater = u clamped to 0..100; saturated = u > 100 or u < 0
;; Disabled: heater 0, not saturated, integral 0, not primed.
(module
  (import "wasmcell" "log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0)
    "WCIM" "\01\00\00\00"
    "\40\00\00\00" "\18\00\00\00"    ;; inputs: 24 bytes at 64
    "\60\00\00\00" "\18\00\00\00"    ;; outputs: 24 bytes at 96
    "\80\00\00\00" "\18\00\00\00"    ;; retain: 24 bytes at 128
    "\01\00\00\00"                   ;; retain layout id 1
    "\00\01\00\00" "\09\00\00\00")   ;; 9 signals at 256
  (data (i32.const 256)
    ;; name address, name length, area, type, reserved, offset
    "\00\02\00\00" "\08\00\00\00" "\00" "\0a" "\00\00" "\00\00\00\00"   ;; setpoint: input f64 @0
    "\10\02\00\00" "\0b\00\00\00" "\00" "\0a" "\00\00" "\08\00\00\00"   ;; temperature: input f64 @8
    "\20\02\00\00" "\06\00\00\00" "\00" "\00" "\00\00" "\10\00\00\00"   ;; enable: input bool @16
    "\30\02\00\00" "\06\00\00\00" "\01" "\0a" "\00\00" "\00\00\00\00"   ;; heater: output f64 @0
    "\40\02\00\00" "\05\00\00\00" "\01" "\0a" "\00\00" "\08\00\00\00"   ;; error: output f64 @8
    "\50\02\00\00" "\09\00\00\00" "\01" "\00" "\00\00" "\10\00\00\00"   ;; saturated: output bool @16
    "\60\02\00\00" "\08\00\00\00" "\02" "\0a" "\00\00" "\00\00\00\00"   ;; integral: retain f64 @0
    "\70\02\00\00" "\10\00\00\00" "\02" "\0a" "\00\00" "\08\00\00\00"   ;; last_temperature: retain f64 @8
    "\80\02\00\00" "\06\00\00\00" "\02" "\00" "\00\00" "\10\00\00\00")   ;; primed: retain bool @16
  (data (i32.const 512) "setpoint") (data (i32.const 528) "temperature") (data (i32.const 544) "enable") (data (i32.const 560) "heater") (data (i32.const 576) "error") (data (i32.const 592) "saturated") (data (i32.const 608) "integral") (data (i32.const 624) "last_temperature") (data (i32.const 640) "primed")
  (data (i32.const 1024) "pid: cold start")
  (func (export "wasmcell_image") (result i32) (i32.const 0))
  (func (export "init")
    (drop (call $log (i32.const 3) (i32.const 1024) (i32.const 15))))
  (func (export "poll")
    (local $e f64) (local $slope f64) (local $i f64) (local $u f64)
    (local.set $e (f64.sub (f64.load (i32.const 64)) (f64.load (i32.const 72))))
    (f64.store (i32.const 104) (local.get $e))
    (if (i32.eqz (i32.load8_u (i32.const 80)))
      (then
        (f64.store (i32.const 96) (f64.const 0))
        (i32.store8 (i32.const 112) (i32.const 0))
        (f64.store (i32.const 128) (f64.const 0))
        (i32.store8 (i32.const 144) (i32.const 0))
        (return)))
    (local.set $slope
      (if (result f64) (i32.load8_u (i32.const 144))
        (then (f64.div (f64.sub (f64.load (i32.const 72)) (f64.load (i32.const 136))) (f64.const 0.1)))
        (else (f64.const 0))))
    (f64.store (i32.const 136) (f64.load (i32.const 72)))
    (i32.store8 (i32.const 144) (i32.const 1))
    (local.set $i
      (f64.add (f64.load (i32.const 128))
               (f64.mul (f64.mul (f64.const 0.5) (local.get $e)) (f64.const 0.1))))
    (local.set $u
      (f64.add (f64.add (f64.mul (f64.const 4) (local.get $e)) (local.get $i))
               (f64.mul (f64.const -10) (local.get $slope))))
    (if (i32.eqz
          (i32.or (i32.and (f64.gt (local.get $u) (f64.const 100)) (f64.gt (local.get $e) (f64.const 0)))
                  (i32.and (f64.lt (local.get $u) (f64.const 0)) (f64.lt (local.get $e) (f64.const 0)))))
      (then (f64.store (i32.const 128) (local.get $i))))
    (f64.store (i32.const 96)
      (if (result f64) (f64.gt (local.get $u) (f64.const 100))
        (then (f64.const 100))
        (else (if (result f64) (f64.lt (local.get $u) (f64.const 0))
          (then (f64.const 0))
          (else (local.get $u))))))
    (i32.store8 (i32.const 112)
      (i32.or (f64.gt (local.get $u) (f64.const 100)) (f64.lt (local.get $u) (f64.const 0))))))

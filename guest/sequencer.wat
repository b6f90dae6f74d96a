;; The batch sequencer of guest/rust/sequencer.rs and guest/c/sequencer.c,
;; in WAT: the same process image (signals, offsets, retain layout id 1) and
;; the same state machine; the suite uses it where no guest toolchain is
;; installed. (The SDK versions also log each transition; this one does not.)
;;   inputs  (24 bytes at 64):  start bool @0, stop bool @1, level f64 @8, temperature f64 @16
;;   outputs (8 bytes at 96):   state u8 @0, inlet bool @1, heater bool @2, outlet bool @3, step_polls u32 @4
;;   retain  (12 bytes at 128): step u8 @0, polls_in_step u32 @4, batches u32 @8
;; States: 0 IDLE -(start)-> 1 FILLING -(level >= 80)-> 2 HEATING
;; -(temperature >= 70)-> 3 HOLDING -(5 polls)-> 4 DRAINING -(level <= 5,
;; batches + 1)-> 0 IDLE; stop: IDLE from anywhere; an unknown state: IDLE.
(module
  (memory (export "memory") 1)
  (data (i32.const 0)
    "WCIM" "\01\00\00\00"
    "\40\00\00\00" "\18\00\00\00"    ;; inputs: 24 bytes at 64
    "\60\00\00\00" "\08\00\00\00"    ;; outputs: 8 bytes at 96
    "\80\00\00\00" "\0c\00\00\00"    ;; retain: 12 bytes at 128
    "\01\00\00\00"                   ;; retain layout id 1
    "\00\01\00\00" "\0c\00\00\00")   ;; 12 signals at 256
  (data (i32.const 256)
    ;; name address, name length, area, type, reserved, offset
    "\00\02\00\00" "\05\00\00\00" "\00" "\00" "\00\00" "\00\00\00\00"   ;; start: input bool @0
    "\10\02\00\00" "\04\00\00\00" "\00" "\00" "\00\00" "\01\00\00\00"   ;; stop: input bool @1
    "\20\02\00\00" "\05\00\00\00" "\00" "\0a" "\00\00" "\08\00\00\00"   ;; level: input f64 @8
    "\30\02\00\00" "\0b\00\00\00" "\00" "\0a" "\00\00" "\10\00\00\00"   ;; temperature: input f64 @16
    "\40\02\00\00" "\05\00\00\00" "\01" "\02" "\00\00" "\00\00\00\00"   ;; state: output u8 @0
    "\50\02\00\00" "\05\00\00\00" "\01" "\00" "\00\00" "\01\00\00\00"   ;; inlet: output bool @1
    "\60\02\00\00" "\06\00\00\00" "\01" "\00" "\00\00" "\02\00\00\00"   ;; heater: output bool @2
    "\70\02\00\00" "\06\00\00\00" "\01" "\00" "\00\00" "\03\00\00\00"   ;; outlet: output bool @3
    "\80\02\00\00" "\0a\00\00\00" "\01" "\06" "\00\00" "\04\00\00\00"   ;; step_polls: output u32 @4
    "\90\02\00\00" "\04\00\00\00" "\02" "\02" "\00\00" "\00\00\00\00"   ;; step: retain u8 @0
    "\a0\02\00\00" "\0d\00\00\00" "\02" "\06" "\00\00" "\04\00\00\00"   ;; polls_in_step: retain u32 @4
    "\b0\02\00\00" "\07\00\00\00" "\02" "\06" "\00\00" "\08\00\00\00")   ;; batches: retain u32 @8
  (data (i32.const 512) "start") (data (i32.const 528) "stop") (data (i32.const 544) "level") (data (i32.const 560) "temperature") (data (i32.const 576) "state") (data (i32.const 592) "inlet") (data (i32.const 608) "heater") (data (i32.const 624) "outlet") (data (i32.const 640) "step_polls") (data (i32.const 656) "step") (data (i32.const 672) "polls_in_step") (data (i32.const 688) "batches")
  (func (export "wasmcell_image") (result i32) (i32.const 0))
  (func (export "poll")
    (local $step i32) (local $next i32)
    (local.set $step (i32.load8_u (i32.const 128)))
    (local.set $next (local.get $step))
    (if (i32.load8_u (i32.const 65))
      (then (local.set $next (i32.const 0)))
      (else
        (block $done
          (block $unknown
            (block $draining
              (block $holding
                (block $heating
                  (block $filling
                    (block $idle
                      (br_table $idle $filling $heating $holding $draining $unknown (local.get $step)))
                    ;; IDLE
                    (if (i32.load8_u (i32.const 64)) (then (local.set $next (i32.const 1))))
                    (br $done))
                  ;; FILLING
                  (if (f64.ge (f64.load (i32.const 72)) (f64.const 80)) (then (local.set $next (i32.const 2))))
                  (br $done))
                ;; HEATING
                (if (f64.ge (f64.load (i32.const 80)) (f64.const 70)) (then (local.set $next (i32.const 3))))
                (br $done))
              ;; HOLDING
              (if (i32.ge_u (i32.load (i32.const 132)) (i32.const 5)) (then (local.set $next (i32.const 4))))
              (br $done))
            ;; DRAINING
            (if (f64.le (f64.load (i32.const 72)) (f64.const 5))
              (then
                (i32.store (i32.const 136) (i32.add (i32.load (i32.const 136)) (i32.const 1)))
                (local.set $next (i32.const 0))))
            (br $done))
          ;; unknown state (corrupted retain): the safe state
          (local.set $next (i32.const 0)))))
    (if (i32.ne (local.get $next) (local.get $step))
      (then
        (i32.store8 (i32.const 128) (local.get $next))
        (i32.store (i32.const 132) (i32.const 0)))
      (else
        (i32.store (i32.const 132) (i32.add (i32.load (i32.const 132)) (i32.const 1)))))
    (local.set $step (i32.load8_u (i32.const 128)))
    (i32.store8 (i32.const 96) (local.get $step))
    (i32.store8 (i32.const 97) (i32.eq (local.get $step) (i32.const 1)))
    (i32.store8 (i32.const 98) (i32.or (i32.eq (local.get $step) (i32.const 2)) (i32.eq (local.get $step) (i32.const 3))))
    (i32.store8 (i32.const 99) (i32.eq (local.get $step) (i32.const 4)))
    (i32.store (i32.const 100) (i32.load (i32.const 132)))))

;; Thermostat controller, version 2 (hot-swapped in): hysteresis between 19.5
;; and 20.5 degrees, the heater state kept in a global.
(module
  (import "plant" "read_sensor" (func $read (param i32) (result f64)))
  (import "plant" "set_actuator" (func $set (param i32 i32)))
  (import "wasmcell" "log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "thermostat v2 online (hysteresis)")
  (global $on (mut i32) (i32.const 0))
  (func (export "init") (drop (call $log (i32.const 3) (i32.const 0) (i32.const 33))))
  (func (export "poll")
    (local $t f64)
    (local.set $t (call $read (i32.const 0)))
    (if (f64.lt (local.get $t) (f64.const 19.5)) (then (global.set $on (i32.const 1))))
    (if (f64.gt (local.get $t) (f64.const 20.5)) (then (global.set $on (i32.const 0))))
    (call $set (i32.const 0) (global.get $on))))

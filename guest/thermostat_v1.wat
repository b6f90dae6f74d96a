;; Thermostat controller, version 1: heater on below 20.0 degrees.
;; Reads plant.read_sensor(0) and drives plant.set_actuator(0, on).
(module
  (import "plant" "read_sensor" (func $read (param i32) (result f64)))
  (import "plant" "set_actuator" (func $set (param i32 i32)))
  (import "wasmcell" "log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "thermostat v1 online")
  (func (export "init") (drop (call $log (i32.const 3) (i32.const 0) (i32.const 20))))
  (func (export "poll")
    (call $set (i32.const 0) (f64.lt (call $read (i32.const 0)) (f64.const 20.0)))))

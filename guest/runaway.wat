;; A user program stuck in an endless loop: the instruction budget stops it.
(module
  (func (export "poll") (loop $again (br $again))))

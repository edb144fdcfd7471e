//! Hardware abstraction: how ISA interrupt requests become vectors and
//! DIRQLs, and the device side of the interrupt controller.

mod irq;

pub use irq::{
    interrupt_after, irq_for_vector, irql_for_irq, request_interrupt, set_interrupt_line,
    vector_for_irq,
};

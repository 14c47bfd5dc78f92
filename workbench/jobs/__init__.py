"""Job specs, the child<->parent event protocol, launching and watching child processes."""

"""The libvirt collector, run on every hypervisor."""

package io.bastida.hypervisor;

/**
 * What a host reports about itself.
 *
 * @param cpus logical CPU threads
 * @param memoryBytes physical memory
 * @param freeMemoryBytes memory not used by anything, or null where the driver cannot tell
 * @param libvirtVersion e.g. {@code 9.0.0}
 * @param hypervisor driver and its version, e.g. {@code QEMU 7.2.0}
 * @param cpuModel host CPU model from the capabilities, e.g. {@code Skylake-Client-IBRS}
 * @param domains all defined domains, running or not
 * @param runningDomains active domains
 * @param domainType the best domain type for guests: {@code kvm} where available, else {@code qemu}
 *     (software emulation), or the driver's own ({@code test})
 */
public record NodeFacts(
    String hostname,
    String architecture,
    String cpuModel,
    int cpus,
    long memoryBytes,
    Long freeMemoryBytes,
    String libvirtVersion,
    String hypervisor,
    int domains,
    int runningDomains,
    String domainType) {}

package io.bastida.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;

/** Ratios of allocatable to physical resources. */
public class Overcommit {
  public static final double DEFAULT_CPU = 4.0;
  public static final double DEFAULT_MEMORY = 1.0;

  @Default("4.0")
  @Min(value = 0, inclusive = false)
  @Max(64)
  @JsonPropertyDescription("Virtual CPUs allowed per physical CPU thread (default 4).")
  private Double cpu;

  @Default("1.0")
  @Min(value = 0, inclusive = false)
  @Max(4)
  @JsonPropertyDescription(
      "Guest memory allowed per byte of host memory (default 1.0: no overcommit).")
  private Double memory;

  public Overcommit() {}

  public Overcommit(Double cpu, Double memory) {
    this.cpu = cpu;
    this.memory = memory;
  }

  public Double getCpu() {
    return cpu;
  }

  public void setCpu(Double cpu) {
    this.cpu = cpu;
  }

  public Double getMemory() {
    return memory;
  }

  public void setMemory(Double memory) {
    this.memory = memory;
  }
}

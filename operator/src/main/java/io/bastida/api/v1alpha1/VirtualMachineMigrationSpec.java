package io.bastida.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

/** What to migrate, where, and the goals it must meet. Immutable: a new attempt is a new object. */
@ValidationRule(
    value = "self == oldSelf",
    message = "spec is immutable: delete this migration and create a new one")
public class VirtualMachineMigrationSpec {
  @Required
  @Size(min = 1, max = 253)
  @Pattern("^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
  @JsonPropertyDescription("The VirtualMachine to move, in this namespace.")
  public String vmName;

  @Size(max = 253)
  @JsonPropertyDescription("The Host to move it to; chosen like a new VM's placement when omitted.")
  public String targetHostName;

  @Default("500")
  @Min(10)
  @Max(60000)
  @JsonPropertyDescription(
      "The longest pause of the guest allowed at switch-over. The migration starts at 100 ms"
          + " (or this, if lower) and raises the allowance in steps up to this goal only when the"
          + " guest's memory changes too fast to converge.")
  public Integer maxDowntimeMilliseconds;

  @Min(1)
  @Max(100000)
  @JsonPropertyDescription("A cap on migration traffic in MiB/s; none when omitted.")
  public Integer bandwidthMiBPerSecond;

  @Default("true")
  @JsonPropertyDescription(
      "Let QEMU slow down a guest whose memory changes faster than it can be copied, once"
          + " raising the allowed downtime was not enough.")
  public Boolean autoConverge;

  @Default("300")
  @Min(5)
  @Max(86400)
  @JsonPropertyDescription(
      "Abort when not done in this many seconds; the VM goes on running on its source host.")
  public Integer timeoutSeconds;
}

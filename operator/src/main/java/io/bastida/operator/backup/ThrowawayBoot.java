package io.bastida.operator.backup;

import static io.bastida.operator.backup.BackupRun.step;

import io.bastida.hypervisor.DomainState;
import io.bastida.hypervisor.Hypervisor;
import io.bastida.hypervisor.HypervisorException;
import io.bastida.operator.backup.BackupRun.StepFailed;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Boots a throwaway copy of a VM from its backup ({@link BootCheckDomain}: overlays take the copy's
 * writes) and watches it: it must not stop or crash, and when the VM has a guest agent the copy's
 * must answer. The copy is destroyed whatever happens; its overlays are the caller's.
 */
final class ThrowawayBoot {
  private static final Logger log = LoggerFactory.getLogger(ThrowawayBoot.class);
  // How long a copy without an agent must run to pass, and the most an agent may take to answer.
  static final Duration BOOT_WINDOW = Duration.ofSeconds(10);
  static final Duration AGENT_WINDOW = Duration.ofMinutes(3);
  private static final Duration POLL = Duration.ofMillis(500);

  private ThrowawayBoot() {}

  /**
   * The throwaway domain's name for a backup: readable, and unique per backup (the hash tells
   * {@code a-b}/{@code c} from {@code a}/{@code b-c}).
   */
  static String domainName(BackupLayout layout) {
    String id = layout.namespace() + "/" + layout.backupName();
    try {
      byte[] hash =
          MessageDigest.getInstance("SHA-256").digest(id.getBytes(StandardCharsets.UTF_8));
      return "bastida-verify-"
          + layout.namespace()
          + "-"
          + layout.backupName()
          + "-"
          + HexFormat.of().formatHex(hash, 0, 4);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Boots the copy on {@code host} and returns what it showed, for the manifest.
   *
   * @param vmDomainXml the VM's definition at backup time
   * @param overlays what each backed-up disk boots from, by target
   * @throws StepFailed (VerificationFailed) when the copy stops, crashes, or its agent is silent
   */
  static String check(
      Hypervisor host,
      BackupLayout layout,
      String vmDomainXml,
      Map<String, BootCheckDomain.Overlay> overlays)
      throws StepFailed {
    String name = domainName(layout);
    String definition =
        step("VerificationFailed", () -> BootCheckDomain.definition(vmDomainXml, name, overlays));
    boolean agent = BootCheckDomain.hasGuestAgent(vmDomainXml);
    Duration window = agent ? AGENT_WINDOW : BOOT_WINDOW;
    step("VerificationFailed", () -> host.startTransientDomain(definition));
    // Started: from here on it is ours to destroy (a name already taken is not).
    try {
      long started = System.nanoTime();
      while (true) {
        Duration elapsed = Duration.ofNanos(System.nanoTime() - started);
        var state = step("VerificationFailed", () -> host.findDomain(name));
        if (state.isEmpty() || state.get().power() == DomainState.Power.Off) {
          throw new StepFailed(
              "VerificationFailed",
              "a throwaway copy booted from the backup stopped "
                  + elapsed.toSeconds()
                  + " s into its boot"
                  + (state.map(DomainState::failed).orElse(false) ? " (it crashed)" : ""),
              null);
        }
        if (agent && answers(host, name)) {
          return "its guest agent answered " + elapsed.toSeconds() + " s after the start";
        }
        if (elapsed.compareTo(window) >= 0) {
          if (agent) {
            throw new StepFailed(
                "VerificationFailed",
                "a throwaway copy booted from the backup runs, but its guest agent did not answer"
                    + " within "
                    + window.toSeconds()
                    + " s",
                null);
          }
          return "it ran "
              + window.toSeconds()
              + " s without crashing (the VM has no guest agent to ask more)";
        }
        try {
          Thread.sleep(POLL.toMillis());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new StepFailed("Interrupted", "the operator is stopping", e);
        }
      }
    } finally {
      try {
        host.destroyDomain(name);
      } catch (HypervisorException e) {
        log.debug("Backup {}: no throwaway domain to stop: {}", layout.folder(), e.getMessage());
      }
    }
  }

  private static boolean answers(Hypervisor host, String domain) {
    try {
      return host.guestHostname(domain).isPresent();
    } catch (HypervisorException notYet) {
      return false;
    }
  }
}

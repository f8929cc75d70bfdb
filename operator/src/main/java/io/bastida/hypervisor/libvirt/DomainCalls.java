package io.bastida.hypervisor.libvirt;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.PointerType;
import com.sun.jna.ptr.IntByReference;
import io.bastida.hypervisor.DomainState.Power;
import java.lang.reflect.Field;
import java.util.Optional;
import org.libvirt.Domain;
import org.libvirt.LibvirtException;

/**
 * Domain calls libvirt-java lacks, made through JNA on its domain pointer: virDomainGetState (only
 * it tells why a domain is off: a crash versus a shutdown, which RerunOnFailure depends on) and
 * virDomainGetHostname, and the guest agent's file system freeze and thaw.
 */
final class DomainCalls {
  private static final int STATE_RUNNING = 1;
  private static final int STATE_BLOCKED = 2;
  private static final int STATE_PAUSED = 3;
  private static final int STATE_SHUTDOWN = 4;
  private static final int STATE_CRASHED = 6;
  private static final int STATE_PMSUSPENDED = 7;
  private static final int SHUTOFF_CRASHED = 3;
  private static final int SHUTOFF_FAILED = 6;
  private static final int PAUSED_SAVE = 3;
  private static final int PAUSED_SNAPSHOT = 9;
  private static final int STATE_SHUTOFF = 5;

  private interface Virt extends Library {
    int virDomainGetState(
        PointerType domain, IntByReference state, IntByReference reason, int flags);

    Pointer virDomainGetHostname(PointerType domain, int flags);

    int virDomainFSFreeze(PointerType domain, Pointer mountpoints, int count, int flags);

    int virDomainFSThaw(PointerType domain, Pointer mountpoints, int count, int flags);

    String virGetLastErrorMessage();
  }

  private static final Virt VIRT = Native.load("virt", Virt.class);
  private static final Field POINTER;

  static {
    try {
      POINTER = Domain.class.getDeclaredField("vdp");
      POINTER.setAccessible(true);
    } catch (NoSuchFieldException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private DomainCalls() {}

  record PowerAndCause(Power power, boolean failed) {}

  /** The hostname the guest (its agent) reports; empty when it does not say. */
  static Optional<String> hostname(Domain domain) {
    Pointer name = VIRT.virDomainGetHostname(pointerOf(domain), 0);
    if (name == null) {
      return Optional.empty();
    }
    try {
      return Optional.of(name.getString(0)).filter(s -> !s.isBlank());
    } finally {
      Native.free(Pointer.nativeValue(name)); // libvirt allocated it; virFree is not exported
    }
  }

  /**
   * Freezes every guest file system through the agent; returns how many.
   *
   * @throws IllegalStateException with libvirt's message, e.g. when the agent does not answer
   */
  static int freezeFilesystems(Domain domain) {
    return checked(VIRT.virDomainFSFreeze(pointerOf(domain), null, 0, 0));
  }

  static int thawFilesystems(Domain domain) {
    return checked(VIRT.virDomainFSThaw(pointerOf(domain), null, 0, 0));
  }

  private static int checked(int result) {
    if (result < 0) {
      // This thread's last libvirt error: the one the failed call just set.
      throw new IllegalStateException(VIRT.virGetLastErrorMessage());
    }
    return result;
  }

  private static PointerType pointerOf(Domain domain) {
    try {
      return (PointerType) POINTER.get(domain);
    } catch (IllegalAccessException e) {
      throw new IllegalStateException(e);
    }
  }

  static PowerAndCause state(Domain domain) throws LibvirtException {
    IntByReference state = new IntByReference();
    IntByReference reason = new IntByReference();
    if (VIRT.virDomainGetState(pointerOf(domain), state, reason, 0) < 0) {
      // Raises the pending libvirt error as a LibvirtException.
      domain.getInfo();
      throw new IllegalStateException("virDomainGetState failed without an error");
    }
    return switch (state.getValue()) {
      case STATE_RUNNING, STATE_BLOCKED, STATE_PMSUSPENDED ->
          new PowerAndCause(Power.Running, false);
      // libvirt pauses the guest while it saves its RAM for a snapshot (internal ones say SAVE)
      // and resumes it itself after: not a pause for the VM's reconciler to undo.
      case STATE_PAUSED ->
          new PowerAndCause(
              reason.getValue() == PAUSED_SAVE || reason.getValue() == PAUSED_SNAPSHOT
                  ? Power.Running
                  : Power.Paused,
              false);
      case STATE_SHUTDOWN -> new PowerAndCause(Power.ShuttingDown, false);
      case STATE_CRASHED -> new PowerAndCause(Power.Off, true);
      case STATE_SHUTOFF ->
          new PowerAndCause(
              Power.Off,
              reason.getValue() == SHUTOFF_CRASHED || reason.getValue() == SHUTOFF_FAILED);
      default -> new PowerAndCause(Power.Off, false);
    };
  }
}

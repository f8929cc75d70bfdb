package io.bastida.hypervisor.libvirt;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.PointerType;
import com.sun.jna.ptr.IntByReference;
import io.bastida.hypervisor.DomainState.Power;
import java.lang.reflect.Field;
import org.libvirt.Domain;
import org.libvirt.LibvirtException;

/**
 * virDomainGetState, which libvirt-java lacks: only it tells why a domain is off (a crash versus a
 * shutdown), which RerunOnFailure depends on.
 */
final class DomainStates {
  private static final int STATE_RUNNING = 1;
  private static final int STATE_BLOCKED = 2;
  private static final int STATE_PAUSED = 3;
  private static final int STATE_SHUTDOWN = 4;
  private static final int STATE_CRASHED = 6;
  private static final int STATE_PMSUSPENDED = 7;
  private static final int SHUTOFF_CRASHED = 3;
  private static final int SHUTOFF_FAILED = 6;
  private static final int STATE_SHUTOFF = 5;

  private interface Virt extends Library {
    int virDomainGetState(
        PointerType domain, IntByReference state, IntByReference reason, int flags);
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

  private DomainStates() {}

  record PowerAndCause(Power power, boolean failed) {}

  static PowerAndCause of(Domain domain) throws LibvirtException {
    IntByReference state = new IntByReference();
    IntByReference reason = new IntByReference();
    PointerType pointer;
    try {
      pointer = (PointerType) POINTER.get(domain);
    } catch (IllegalAccessException e) {
      throw new IllegalStateException(e);
    }
    if (VIRT.virDomainGetState(pointer, state, reason, 0) < 0) {
      // Raises the pending libvirt error as a LibvirtException.
      domain.getInfo();
      throw new IllegalStateException("virDomainGetState failed without an error");
    }
    return switch (state.getValue()) {
      case STATE_RUNNING, STATE_BLOCKED, STATE_PMSUSPENDED ->
          new PowerAndCause(Power.Running, false);
      case STATE_PAUSED -> new PowerAndCause(Power.Paused, false);
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

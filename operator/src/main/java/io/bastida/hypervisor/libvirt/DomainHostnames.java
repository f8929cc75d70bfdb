package io.bastida.hypervisor.libvirt;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.PointerType;
import java.lang.reflect.Field;
import java.util.Optional;
import org.libvirt.Domain;

/** virDomainGetHostname, which libvirt-java lacks: the guest's own idea of its name. */
final class DomainHostnames {
  private interface Virt extends Library {
    Pointer virDomainGetHostname(PointerType domain, int flags);
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

  private DomainHostnames() {}

  /** Empty when the guest (or its agent) does not say. */
  static Optional<String> of(Domain domain) {
    try {
      Pointer name = VIRT.virDomainGetHostname((PointerType) POINTER.get(domain), 0);
      if (name == null) {
        return Optional.empty();
      }
      try {
        return Optional.of(name.getString(0)).filter(s -> !s.isBlank());
      } finally {
        Native.free(Pointer.nativeValue(name)); // libvirt allocated it; virFree is not exported
      }
    } catch (IllegalAccessException e) {
      throw new IllegalStateException(e);
    }
  }
}

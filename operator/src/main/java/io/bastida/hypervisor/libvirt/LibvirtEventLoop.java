package io.bastida.hypervisor.libvirt;

import org.libvirt.Connect;
import org.libvirt.Library;
import org.libvirt.LibvirtException;
import org.libvirt.jna.Libvirt;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * libvirt's default event loop, run on one daemon thread, and its process-wide error handler.
 * Keepalive (and so the detection of dead connections) and domain events only work while it runs.
 */
final class LibvirtEventLoop {
  private static final Logger log = LoggerFactory.getLogger(LibvirtEventLoop.class);
  private static final Libvirt.VirErrorCallback IGNORE_ERRORS = (userData, error) -> {};
  private static boolean started;

  private LibvirtEventLoop() {}

  static synchronized void ensureStarted() {
    if (started) {
      return;
    }
    try {
      // libvirt prints every error to stderr by default; callers get them as exceptions anyway.
      Connect.setErrorCallback(IGNORE_ERRORS);
      Library.initEventLoop();
    } catch (LibvirtException e) {
      throw new IllegalStateException("cannot initialise libvirt's event loop", e);
    }
    Thread thread =
        new Thread(
            () -> {
              try {
                Library.runEventLoop();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              } catch (LibvirtException e) {
                log.error("libvirt event loop stopped", e);
              }
            },
            "libvirt-event-loop");
    thread.setDaemon(true);
    thread.start();
    started = true;
  }
}

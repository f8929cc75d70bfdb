package io.bastida.api.v1alpha1;

/** API group, version and well-known names shared by every Bastida resource. */
public final class Bastida {
  public static final String GROUP = "bastida.io";
  public static final String VERSION = "v1alpha1";
  public static final String API_VERSION = GROUP + "/" + VERSION;

  private Bastida() {}
}

package io.bastida.api.v1alpha1;

/** Whether a VM should run, with KubeVirt's meanings. */
public enum RunStrategy {
  /** Keep it running: start it, and start it again whenever it stops. */
  Always,
  /** Start it again only if it stopped by failing (crash), not when the guest shut down. */
  RerunOnFailure,
  /** Keep it stopped. */
  Halted,
  /** Define it, then leave starting and stopping to the admin. */
  Manual,
  /** Run it once; when it stops, leave it stopped. */
  Once
}

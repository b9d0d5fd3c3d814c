package dev.midlayer.verbs;

import dev.midlayer.ib.AhAttr;

/**
 * An address handle ({@code struct ib_ah}): a validated path to a remote port, named in UD work
 * requests. Created with {@link ProtectionDomain#createAh}.
 *
 * <p>Threading: every method <b>never blocks and is callable from any thread and any context</b>
 * (the seed's rule for create/modify/query/destroy AH). A UD post takes the handle's path at the moment
 * of the post (as hardware copies the address vector into the work request), so modifying or destroying
 * the handle afterwards does not change a request already posted.
 */
public interface AddressHandle {
  /** The protection domain. */
  ProtectionDomain pd();

  /** The handle's number on its device. */
  int handle();

  /**
   * The current attributes ({@code rdma_query_ah}). Never blocks; any context.
   *
   * @throws IllegalStateException if the handle was destroyed
   */
  AhAttr query();

  /**
   * Changes the path ({@code rdma_modify_ah}). Never blocks; any context.
   *
   * @throws dev.midlayer.ib.InvalidArgumentException if the new attributes do not fit the device, or would
   *     change the kind of address (GRH or not)
   * @throws IllegalStateException if the handle was destroyed
   */
  void modify(AhAttr newAttr);

  /**
   * Destroys the handle ({@code rdma_destroy_ah}). Never blocks; any context.
   *
   * @throws IllegalStateException if it was destroyed already (the message names the handle)
   */
  void destroy();

  /** False once destroyed. */
  boolean isValid();
}

package dev.midlayer.testkit.model;

/**
 * How much the randomized model tests run: a small fixed budget in CI, more with
 * {@code -Dmidlayer.test.long=true} (20 times as many iterations) or exactly {@code -Dmidlayer.test.iterations=N}.
 */
final class ModelBudget {
  private ModelBudget() {}

  /** Iterations for a test whose CI budget is {@code ci}. */
  static int iterations(int ci) {
    Integer exact = Integer.getInteger("midlayer.test.iterations");
    if (exact != null) {
      return exact;
    }
    return Boolean.getBoolean("midlayer.test.long") ? ci * 20 : ci;
  }
}

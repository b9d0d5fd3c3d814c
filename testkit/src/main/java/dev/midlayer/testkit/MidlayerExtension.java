package dev.midlayer.testkit;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * JUnit 5 extension that gives each test class one {@link MidlayerTestKit}, injected into test methods,
 * constructors and lifecycle methods that declare a {@code MidlayerTestKit} parameter, and shut down after
 * the class's last test. Use it as {@code @ExtendWith(MidlayerExtension.class)}.
 *
 * <p>The kit is stored per test class, not per test instance, so it works with JUnit's default
 * per-method lifecycle (unlike a kit held in an instance field, of which only the last would be shut
 * down). Tests in one class share the midlayer: a test that registers something should unregister it,
 * or the class should use a fresh {@link MidlayerTestKit#create()} per test.
 */
public final class MidlayerExtension implements ParameterResolver, AfterAllCallback {
  private static final ExtensionContext.Namespace NAMESPACE =
      ExtensionContext.Namespace.create(MidlayerExtension.class);

  @Override
  public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
    return parameter.getParameter().getType() == MidlayerTestKit.class;
  }

  @Override
  public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
    return kitOf(context);
  }

  @Override
  public void afterAll(ExtensionContext context) {
    MidlayerTestKit kit = classStore(context).remove(MidlayerTestKit.class, MidlayerTestKit.class);
    if (kit != null) {
      kit.shutdown();
    }
  }

  private static MidlayerTestKit kitOf(ExtensionContext context) {
    return classStore(context).getOrComputeIfAbsent(MidlayerTestKit.class, k -> MidlayerTestKit.create(),
        MidlayerTestKit.class);
  }

  private static ExtensionContext.Store classStore(ExtensionContext context) {
    ExtensionContext classContext = context;
    while (classContext.getTestMethod().isPresent() && classContext.getParent().isPresent()) {
      classContext = classContext.getParent().get();
    }
    return classContext.getStore(NAMESPACE);
  }
}

/** Internal API: the registry implementation. Not an API; may change without notice. */
package dev.midlayer.internal.registry;

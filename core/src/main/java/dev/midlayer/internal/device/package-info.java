/** Internal API: the device implementation. Not an API; may change without notice. */
package dev.midlayer.internal.device;

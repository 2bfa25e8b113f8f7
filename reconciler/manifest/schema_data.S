/* The JSON Schemas of schema/, embedded in the binary (NUL-terminated). */
	.section .rodata
	.global press_manifest_schema
press_manifest_schema:
	.incbin "schema/manifest.schema.json"
	.byte 0

	.section .note.GNU-stack,"",@progbits

/* The dashboard's static files (reconciler/serve/assets/), embedded in the
 * binary (NUL-terminated): no file is read at run time, no CDN is asked. */
	.section .rodata
	.global press_asset_index_html
press_asset_index_html:
	.incbin "reconciler/serve/assets/index.html"
	.byte 0
	.global press_asset_app_js
press_asset_app_js:
	.incbin "reconciler/serve/assets/app.js"
	.byte 0
	.global press_asset_app_css
press_asset_app_css:
	.incbin "reconciler/serve/assets/app.css"
	.byte 0

	.section .note.GNU-stack,"",@progbits

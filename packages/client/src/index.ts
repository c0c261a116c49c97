/**
 * @rendermesh/client — see ../../../shared DESIGN "Roles and layout".
 */
export {};

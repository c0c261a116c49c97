/**
 * @rendermesh/provider-node — see ../../../shared DESIGN "Roles and layout".
 */
export {};
